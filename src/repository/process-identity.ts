import { readFileSync } from "node:fs";
import * as os from "node:os";

/**
 * Who owns a spool: enough to tell, from another process on this machine, whether the owner is
 * still alive. The process start time guards against a recycled PID after a crash.
 */
export interface ProcessIdentity {
  pid: number;
  host: string;
  /** Linux: field 22 of /proc/PID/stat (clock ticks since boot); null elsewhere. */
  start: string | null;
}

function startOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** This process's identity. */
export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, host: os.hostname(), start: startOf(process.pid) };
}

/**
 * Whether the process that wrote `identity` still runs. A process on another host counts as
 * alive: its spool is not ours to touch.
 *
 * @example
 * if (!isAlive(owner)) await recover(spool);
 */
export function isAlive(identity: ProcessIdentity): boolean {
  if (identity.host !== os.hostname()) return true;
  if (identity.pid === process.pid) return true;
  try {
    process.kill(identity.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  const start = startOf(identity.pid);
  return identity.start === null || start === null || start === identity.start;
}
