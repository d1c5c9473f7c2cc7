import * as os from "node:os";
import * as path from "node:path";

/**
 * Cairn's cache folder on this machine: `CAIRN_CACHE_DIR`, else `$XDG_CACHE_HOME/cairn`, else
 * `~/.cache/cairn`. Everything in it can be deleted at any time (`cairn cache clear`) except the
 * spools of remote repositories, which hold checkpoints not yet uploaded.
 *
 * @example
 * cacheDirectory(); // "/home/ana/.cache/cairn"
 */
export function cacheDirectory(): string {
  if (process.env.CAIRN_CACHE_DIR) return path.resolve(process.env.CAIRN_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME ? path.resolve(process.env.XDG_CACHE_HOME) : path.join(os.homedir(), ".cache");
  return path.join(base, "cairn");
}

/** True for URLs of remote storage (anything but a path or file://). */
export function isRemoteUrl(url: string): boolean {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  return scheme !== undefined && scheme !== "file";
}
