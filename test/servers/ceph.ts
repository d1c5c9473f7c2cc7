/**
 * The tests' S3 server: a throwaway single-node Ceph cluster whose radosgw speaks S3 on
 * 127.0.0.1, started by scripts/servers/ceph.mjs (plain JavaScript, shared with the benchmarks).
 */
export { startCeph } from "../../scripts/servers/ceph.mjs";

/** A throwaway single-node Ceph cluster whose radosgw speaks S3 on 127.0.0.1. */
export interface CephServer {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The folder of the daemons' logs. */
  logs: string;
  /** Milliseconds from nothing to a working S3 endpoint. */
  startMs: number;
  stop(): Promise<void>;
}
