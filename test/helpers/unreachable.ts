import { freePort } from "../servers/ports.js";

/**
 * An http:// endpoint on 127.0.0.1 where nothing listens (connections are refused).
 *
 * @example
 * const endpoint = await unreachableEndpoint(); // "http://127.0.0.1:41234"
 */
export async function unreachableEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/** A short random name part, for prefixes and missing buckets. */
export function randomName(): string {
  return Math.random().toString(36).slice(2, 10);
}
