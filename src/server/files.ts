import { Readable } from "node:stream";
import type { Checkpoint } from "../api/checkpoint.js";
import type { Experiment } from "../api/experiment.js";
import { CairnError } from "../errors.js";
import { openFileStream } from "../repository/objects.js";
import type { Storage } from "../storage/storage.js";
import { API_HEADERS } from "./json.js";

/** Code files larger than this are offered for download only, not shown. */
export const MAX_SHOWN_BYTES = 2 * 1024 * 1024;

/**
 * One file of an experiment's code snapshot, read whole and verified (its SHA-256 is checked
 * before a byte is sent, so corruption is a clear 500, never a truncated view). Served as
 * sandboxed plain text: a stored HTML file can never run in the page's origin.
 *
 * @example
 * return await codeFileResponse(storage, experiment, "train.py", false);
 */
export async function codeFileResponse(storage: Storage, experiment: Experiment, file: string, download: boolean): Promise<Response> {
  const entries = await experiment.codeFiles();
  const entry = entries.find((e) => e.path === file);
  if (!entry) throw new CairnError("NOT_FOUND", `The code snapshot of ${experiment.description} has no file "${file}".`, { details: { path: file } });
  if (!download && entry.size > MAX_SHOWN_BYTES) {
    throw new CairnError("INVALID_ARGUMENT", `${file} is ${entry.size} bytes, too large to show; download it instead.`, { details: { path: file, size: entry.size } });
  }
  const stream = await openFileStream(storage, entry, `${file} of the code snapshot of ${experiment.description}`);
  if (download) return streamResponse(stream, file, entry.size);
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return new Response(Buffer.concat(parts), { headers: { ...fileHeaders(file, false), "content-type": "text/plain; charset=utf-8", "content-length": String(entry.size) } });
}

/**
 * One file of a checkpoint, streamed through `Checkpoint.open()` (verified as it flows; a
 * mismatch aborts the transfer, so a corrupt download fails instead of completing).
 *
 * @example
 * return await checkpointFileResponse(checkpoint, "model/weights.bin");
 */
export async function checkpointFileResponse(checkpoint: Checkpoint, file: string): Promise<Response> {
  const entry = (await checkpoint.files()).find((f) => f.path === file || (checkpoint.path !== null && f.path === `${checkpoint.path}/${file}`));
  const stream = await checkpoint.open(file);
  return streamResponse(stream, file, entry?.size);
}

function streamResponse(stream: Readable, file: string, size: number | undefined): Response {
  const headers: Record<string, string> = { ...fileHeaders(file, true), "content-type": "application/octet-stream" };
  if (size !== undefined) headers["content-length"] = String(size);
  return new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, { headers });
}

/** Headers for repository files: never sniffed, never run as a document of this origin. */
function fileHeaders(file: string, attachment: boolean): Record<string, string> {
  const name = file.split("/").pop() ?? "file";
  const headers: Record<string, string> = { ...API_HEADERS, "content-security-policy": "default-src 'none'; sandbox" };
  if (attachment) headers["content-disposition"] = `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(name)}`;
  return headers;
}
