import { Transform, pipeline, type Readable } from "node:stream";

/**
 * The bytes `start`..`end` (inclusive; to the end when left out) of a stream of a whole object.
 * For servers that answer a ranged request with the whole object, as HTTP allows.
 *
 * @example
 * const part = sliceStream(wholeObjectStream, 100, 199); // 100 bytes
 */
export function sliceStream(source: Readable, start: number, end?: number): Readable {
  let offset = 0;
  const last = end ?? Number.POSITIVE_INFINITY;
  const cut = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(last + 1 - offset, chunk.length);
      offset += chunk.length;
      done(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
  // pipeline forwards errors either way and destroys the source when the slice is abandoned.
  return pipeline(source, cut, () => {});
}
