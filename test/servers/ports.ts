/** Ports for the test servers: shared with the benchmarks' servers (scripts/servers/ports.mjs). */
export { freePort, waitForPort } from "../../scripts/servers/ports.mjs";
