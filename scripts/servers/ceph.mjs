// @ts-check
/**
 * A throwaway single-node Ceph cluster whose radosgw speaks S3 on 127.0.0.1: the S3 server of
 * the storage tests (test/servers/global-setup.ts) and of the benchmarks (bench/s3-server.mjs).
 * One monitor, one memstore OSD (the bucket lives in memory), radosgw, an S3 user with random
 * keys; no cephx, no systemd. Plain JavaScript so the benchmarks can run it with bare node.
 */
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { startDaemon } from "./daemon.mjs";
import { freePort, waitForPort } from "./ports.mjs";

const run = promisify(execFile);
/** With CAIRN_SERVERS_TRACE=1, how long each step of the start took (for tuning it). */
const mark = (/** @type {string} */ label, /** @type {number} */ t0) => {
  if (process.env.CAIRN_SERVERS_TRACE) console.error(`ceph: ${label} after ${Date.now() - t0} ms`);
};

/**
 * @typedef {object} CephServer
 * @property {string} endpoint
 * @property {string} region
 * @property {string} accessKeyId
 * @property {string} secretAccessKey
 * @property {string} logs The folder of the daemons' logs.
 * @property {number} startMs Milliseconds from nothing to a working S3 endpoint.
 * @property {() => Promise<void>} stop
 */

// Pools radosgw would otherwise create lazily, each costing ~2 s on first use.
const RGW_POOLS = [
  ".rgw.root",
  "default.rgw.log",
  "default.rgw.control",
  "default.rgw.meta",
  "default.rgw.buckets.index",
  "default.rgw.buckets.data",
  "default.rgw.buckets.non-ec",
];

// One Python process (librados from Debian's python3-rados) registers the OSD and creates the
// pools: a `ceph` command per step would cost ~0.3 s each.
const SETUP_SCRIPT = `
import json, sys, rados
conf, osd_uuid, pools = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
cluster = rados.Rados(conffile=conf)
cluster.connect(timeout=20)
def command(**fields):
    code, out, err = cluster.mon_command(json.dumps(fields), b"")
    if code != 0:
        raise SystemExit("ceph %s failed (%d): %s" % (fields["prefix"], code, err))
    return out
command(prefix="osd new", uuid=osd_uuid, id=0)
for pool in pools:
    command(prefix="osd pool create", pool=pool, pg_num=8, pgp_num=8)
    command(prefix="osd pool application enable", pool=pool, app="rgw", yes_i_really_mean_it=True)
cluster.shutdown()
`;

/**
 * Starts one monitor, one memstore OSD and radosgw, with all state under `root`, and an S3 user
 * with fresh random keys. About 6 s. Every daemon dies with this process.
 *
 * @example
 * const ceph = await startCeph("/tmp/cairn-servers/ceph", { memoryBytes: 16 * 1024 ** 3 });
 * // ... new S3Client({ endpoint: ceph.endpoint, forcePathStyle: true, ... })
 * await ceph.stop();
 * @param {string} root
 * @param {{ memoryBytes?: number, user?: string }} [options] memoryBytes: the OSD's size (8 GiB by default).
 * @returns {Promise<CephServer>}
 */
export async function startCeph(root, { memoryBytes = 8 * 1024 ** 3, user = "cairn" } = {}) {
  const started = Date.now();
  await requireCommands(["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "setpriv", "/usr/bin/python3"]);
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const osdUuid = randomUUID();
  const dir = (/** @type {string} */ name) => path.join(root, name);
  await Promise.all(["run", "log", "mon", "osd", "rgw"].map((name) => mkdir(dir(name), { recursive: true })));
  const conf = dir("ceph.conf");
  await writeFile(conf, cephConf({ root, fsid, monPort, rgwPort, memoryBytes }));
  /** @type {import("./daemon.mjs").Daemon[]} */
  const daemons = [];
  const stop = async () => {
    await Promise.all(daemons.reverse().map((d) => d.stop()));
  };
  try {
    await run("monmaptool", ["--create", "--fsid", fsid, "--addv", "a", `[v2:127.0.0.1:${monPort}]`, dir("monmap")]);
    await Promise.all([
      run("ceph-mon", ["-c", conf, "--mkfs", "-i", "a", "--monmap", dir("monmap")], { timeout: 30_000 }),
      // Offline: without --no-mon-config it would wait minutes for a monitor's configuration.
      run("ceph-osd", ["-c", conf, "--mkfs", "--no-mon-config", "-i", "0", "--osd-uuid", osdUuid], { timeout: 30_000 }),
    ]);
    mark("mkfs", started);
    daemons.push(startDaemon("ceph-mon", "ceph-mon", ["-f", "-c", conf, "-i", "a"], { logFile: dir("log/mon.out") }));
    await run("/usr/bin/python3", ["-c", SETUP_SCRIPT, conf, osdUuid, RGW_POOLS.join(",")], { timeout: 30_000 });
    mark("setup.py", started);
    daemons.push(startDaemon("ceph-osd", "ceph-osd", ["-f", "-c", conf, "-i", "0"], { logFile: dir("log/osd.out") }));
    const accessKeyId = `${user}${randomBytes(8).toString("hex")}`;
    const secretAccessKey = randomBytes(24).toString("hex");
    // radosgw-admin waits for the OSD to come up; it writes the user straight into RADOS.
    await run(
      "radosgw-admin",
      ["-c", conf, "-n", "client.rgw", "user", "create", `--uid=${user}`, `--display-name=${user}`, `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`],
      { timeout: 30_000 },
    );
    mark("user create", started);
    daemons.push(startDaemon("radosgw", "radosgw", ["-f", "-c", conf, "-n", "client.rgw"], { logFile: dir("log/rgw.out") }));
    await waitForPort(rgwPort, 30_000, () => daemons.map((d) => d.exitMessage()).find((m) => m !== null) ?? null);
    mark("rgw up", started);
    return { endpoint: `http://127.0.0.1:${rgwPort}`, region: "us-east-1", accessKeyId, secretAccessKey, logs: dir("log"), startMs: Date.now() - started, stop };
  } catch (error) {
    await stop();
    throw new Error(`Ceph (radosgw) did not start: ${describe(error)}\nLogs are in ${dir("log")}.`, { cause: error });
  }
}

/** @param {{ root: string, fsid: string, monPort: number, rgwPort: number, memoryBytes: number }} o */
function cephConf(o) {
  const p = (/** @type {string} */ name) => path.join(o.root, name);
  return `[global]
fsid = ${o.fsid}
mon host = v2:127.0.0.1:${o.monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
run dir = ${p("run")}
admin socket = ${p("run")}/$name.asok
pid file = ${p("run")}/$name.pid
log file = ${p("log")}/$name.log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
paxos propose interval = 0.05
# Clients re-ask for a newer OSD map on this tick; the default 5 s stalls the first requests.
objecter tick interval = 0.1
ms bind ipv6 = false
[mon]
mon data = ${p("mon")}
mon data avail warn = 1
mon data avail crit = 0
[osd]
osd data = ${p("osd")}
osd objectstore = memstore
memstore device bytes = ${o.memoryBytes}
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${o.rgwPort} tcp_nodelay=1
rgw data = ${p("rgw")}
ms mon client mode = crc
rgw thread pool size = 64
# Not three log lines per request (request start, done, access line): at thousands of requests
# a second they cost the server CPU and disk writes on the cores being measured. Errors are
# still logged.
debug rgw = 0/0
# Deleted objects' data is freed at once, not after the default 2 hours: the benchmarks delete
# each run's gigabytes, and the bucket lives in memory.
rgw gc obj min wait = 0
rgw gc processor period = 10
`;
}

/**
 * Fails with the install hint when a command the cluster needs is missing.
 * @param {string[]} commands
 */
async function requireCommands(commands) {
  const missing = [];
  for (const command of commands) {
    try {
      await run("sh", ["-c", `command -v ${command}`]);
    } catch {
      missing.push(command);
    }
  }
  try {
    await run("/usr/bin/python3", ["-c", "import rados"]);
  } catch {
    missing.push("python3-rados");
  }
  if (missing.length > 0) {
    throw new Error(`Ceph is not installed (missing: ${missing.join(", ")}). Run \`bash scripts/ci-install.sh\` as root to install it.`);
  }
}

/** @param {unknown} error */
function describe(error) {
  const e = /** @type {{ message?: string, stderr?: string }} */ (error);
  return [e.message, e.stderr?.trim()].filter(Boolean).join("\n");
}
