/**
 * The writer side runs inside a training script, where there is no CLI to print for it. Its few
 * messages (slow shutdown, storage trouble) go through here: to stderr by default, to nowhere
 * with CAIRN_QUIET=1, or to a function the caller sets (the Python binding forwards them).
 */
export type DiagnosticSink = (message: string) => void;

let sink: DiagnosticSink = (message) => {
  if (process.env.CAIRN_QUIET !== "1") process.stderr.write(`cairn: ${message}\n`);
};

/** Routes writer-side diagnostics elsewhere. @example setDiagnosticSink((m) => log.push(m)); */
export function setDiagnosticSink(next: DiagnosticSink): void {
  sink = next;
}

export function diagnose(message: string): void {
  sink(message);
}
