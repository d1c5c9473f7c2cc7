import { describe, expect, it } from "vitest";
import { isLoopback } from "../../src/server/index.js";

describe("isLoopback", () => {
  it("knows the names and addresses only this machine reaches", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "app.localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ["0.0.0.0", "::", "[::]", "192.168.1.10", "10.0.0.1", "example.com", "localhost.example.com", "128.0.0.1", ""]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});
