import { randomBytes } from "node:crypto";

/**
 * A new experiment or checkpoint ID: 128 random bits as 32 lowercase hex digits.
 *
 * @example
 * newId(); // "e510303c2a9f4d0b8e7f1a2b3c4d5e6f"
 */
export function newId(): string {
  return randomBytes(16).toString("hex");
}

/** The short form shown in tables (like git's abbreviated hashes). */
export function shortId(id: string): string {
  return id.slice(0, 7);
}
