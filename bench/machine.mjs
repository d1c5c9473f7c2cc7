/**
 * What the figures were measured on: CPU, cores, memory, and the disk and file system of the
 * folder the benchmarks write into. Printed with every table, because a ratio means little
 * without it.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import { run } from "./lib.mjs";

/**
 * @example
 * const machine = await describeMachine("/tmp/cairn-bench-1");
 * machine.lines; // ["CPU: AMD EPYC, 2 cores (SHA extensions: yes)", ...]
 */
export async function describeMachine(directory) {
  const cpus = os.cpus();
  const flags = await fs.readFile("/proc/cpuinfo", "utf8").then((text) => /^flags\s*:(.*)$/m.exec(text)?.[1] ?? "", () => "");
  const sha = flags ? (/\bsha_ni\b/.test(flags) ? "yes" : "no") : "unknown";
  const disk = await describeDisk(directory);
  const cp = await run("cp", ["--version"]).then((r) => r.stdout.split("\n")[0], () => "cp (version unknown)");
  const lines = [
    `CPU: ${cpus[0]?.model.trim() ?? "unknown"}, ${cpus.length} cores (SHA extensions: ${sha}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
    `Disk: ${disk}`,
    `Software: Node ${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${cp}`,
    // Other work on the machine widens the spread of every figure; say how busy it was.
    `Load average when the run started: ${os.loadavg().map((l) => l.toFixed(2)).join(", ")} (1, 5, 15 min)`,
  ];
  return { lines };
}

/** "ext4 on /dev/vda (virtio, SSD), folder /tmp/…", from df and /sys/block. */
async function describeDisk(directory) {
  try {
    const { stdout } = await run("df", ["-PT", directory]);
    const [device, type, blocks, , available] = stdout.trim().split("\n").pop().split(/\s+/);
    const name = device.replace(/^\/dev\//, "").replace(/p?\d+$/, "");
    const read = (file) => fs.readFile(`/sys/block/${name}/${file}`, "utf8").then((s) => s.trim(), () => null);
    const [rotational, model, driver] = await Promise.all([read("queue/rotational"), read("device/model"), fs.readlink(`/sys/block/${name}/device/driver`).catch(() => null)]);
    const kind = rotational === "1" ? "reports rotational" : rotational === "0" ? "non-rotational" : null;
    const about = [model, driver?.split("/").pop(), kind].filter(Boolean).join(", ");
    const gib = (kib) => `${(Number(kib) / 2 ** 20).toFixed(0)} GiB`;
    return `${type} on ${device}${about ? ` (${about})` : ""}, ${gib(blocks)} (${gib(available)} free); benchmark folder ${directory}`;
  } catch {
    return `unknown; benchmark folder ${directory}`;
  }
}
