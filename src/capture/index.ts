/**
 * What `cairn.init()` records about a run: the code snapshot, the machine, git and dependencies.
 */
export { listSnapshotFiles, formatSnapshotWarning, SNAPSHOT_WARN_BYTES, DEFAULT_IGNORE_FILE_NAME } from "./snapshot.js";
export type { SnapshotFile, SnapshotListing, ListSnapshotOptions } from "./snapshot.js";
export { captureEnvironment } from "./environment.js";
export type { CaptureEnvironmentOptions } from "./environment.js";
export { captureGit } from "./git.js";
export type { GitCapture } from "./git.js";
export { captureDependencies } from "./dependencies.js";
export { stripUrlCredentials } from "./url.js";
