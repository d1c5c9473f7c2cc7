import type { ExperimentRecord, ExperimentStatus } from "./types.js";

/** What status is computed from: a record and its summary both have these. */
type Liveness = Pick<ExperimentRecord, "stopped" | "updated" | "heartbeatIntervalMs">;

/**
 * How long without a heartbeat before a running experiment counts as crashed: three missed
 * beats plus slack for clock differences between the writer and the storage server.
 */
export function staleAfterMs(record: Liveness): number {
  return record.heartbeatIntervalMs * 3 + 5_000;
}

/**
 * An experiment's status from its record and the storage time of its last heartbeat.
 *
 * @example
 * statusOf(record, heartbeat?.modified ?? null, new Date()); // "running"
 */
export function statusOf(record: Liveness, lastHeartbeat: Date | null, now: Date): ExperimentStatus {
  if (record.stopped !== null) return "stopped";
  const updated = Date.parse(record.updated);
  const last = Math.max(lastHeartbeat?.getTime() ?? 0, Number.isNaN(updated) ? 0 : updated);
  return now.getTime() - last <= staleAfterMs(record) ? "running" : "crashed";
}
