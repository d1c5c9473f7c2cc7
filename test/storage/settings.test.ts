import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { CairnError } from "../../src/errors.js";
import { parseAzureUrl } from "../../src/storage/azure.js";
import { plainEtag } from "../../src/storage/etag.js";
import { openStorage } from "../../src/storage/open.js";
import { parseBucketUrl, parseStorageSettings, remoteStateDirectory } from "../../src/storage/settings.js";
import { sliceStream } from "../../src/storage/slice.js";

const errorOf = (f: () => unknown): CairnError => {
  try {
    f();
  } catch (error) {
    return error as CairnError;
  }
  throw new Error("expected an error");
};

describe("storage settings from cairn.yaml", () => {
  it("accepts the known keys with the right types", () => {
    expect(parseStorageSettings(undefined)).toEqual({});
    expect(parseStorageSettings({ endpoint: "http://127.0.0.1:7480", forcePathStyle: true, region: "us-east-1", partSizeMiB: 16, uploadConcurrency: 8, maxAttempts: 3 })).toEqual({
      endpoint: "http://127.0.0.1:7480",
      forcePathStyle: true,
      region: "us-east-1",
      partSizeMiB: 16,
      uploadConcurrency: 8,
      maxAttempts: 3,
    });
  });

  it("refuses unknown keys, naming the known ones", () => {
    const error = errorOf(() => parseStorageSettings({ forcePathstyle: true }));
    expect(error.code).toBe("CONFIG");
    expect(error.message).toMatch(/Unknown setting "storage.forcePathstyle".*forcePathStyle/);
  });

  it("refuses secrets, saying where credentials come from instead", () => {
    for (const key of ["secretAccessKey", "accessKeyId", "accountKey", "connectionString", "password"]) {
      const error = errorOf(() => parseStorageSettings({ [key]: "hunter2" }));
      expect(error.code).toBe("CONFIG");
      expect(error.message).toContain("does not belong in cairn.yaml");
      expect(error.message).not.toContain("hunter2");
    }
  });

  it("refuses wrong types, bad endpoints and out-of-range sizes", () => {
    expect(errorOf(() => parseStorageSettings({ forcePathStyle: "yes" })).message).toMatch(/must be a boolean/);
    expect(errorOf(() => parseStorageSettings({ endpoint: "127.0.0.1:9000" })).message).toMatch(/http:\/\/ or https:\/\/ URL/);
    expect(errorOf(() => parseStorageSettings({ partSizeMiB: 1 })).message).toMatch(/from 5 to 4096/);
    expect(errorOf(() => parseStorageSettings([1])).message).toMatch(/must be a mapping/);
  });
});

describe("repository URLs", () => {
  it("splits s3:// and gs:// URLs into bucket and prefix", () => {
    expect(parseBucketUrl("s3://models/team-a/run-1/", "s3://bucket/prefix")).toEqual({ scheme: "s3", bucket: "models", prefix: "team-a/run-1", url: "s3://models/team-a/run-1" });
    expect(parseBucketUrl("gs://models", "gs://bucket/prefix")).toMatchObject({ bucket: "models", prefix: "", url: "gs://models" });
    expect(errorOf(() => parseBucketUrl("s3://models/a//b", "s3://bucket/prefix")).code).toBe("INVALID_ARGUMENT");
    expect(errorOf(() => parseBucketUrl("s3://models/../b", "s3://bucket/prefix")).code).toBe("INVALID_ARGUMENT");
  });

  it("splits azure://account/container/prefix", () => {
    expect(parseAzureUrl("azure://acme/models/team-a")).toMatchObject({ account: "acme", bucket: "models", prefix: "team-a", url: "azure://acme/models/team-a" });
    expect(errorOf(() => parseAzureUrl("azure://acme")).message).toMatch(/azure:\/\/ACCOUNT\/CONTAINER\/PREFIX/);
  });

  it("says which schemes exist when given another", async () => {
    const error = (await openStorage("ftp://example.com/x").catch((e: unknown) => e)) as CairnError;
    expect(error.code).toBe("UNSUPPORTED_URL");
    expect(error.message).toMatch(/s3:\/\/.*gs:\/\/.*azure:\/\//);
  });
});

describe("the local state folder of a remote repository", () => {
  const saved = process.env.CAIRN_CACHE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.CAIRN_CACHE_DIR;
    else process.env.CAIRN_CACHE_DIR = saved;
  });

  it("is CAIRN_CACHE_DIR/repositories/<16 hex digits>, one per URL and endpoint", () => {
    process.env.CAIRN_CACHE_DIR = "/var/cache/cairn-test";
    const one = remoteStateDirectory("s3://models/team-a");
    expect(one).toMatch(/^\/var\/cache\/cairn-test\/repositories\/[0-9a-f]{16}$/);
    expect(remoteStateDirectory("s3://models/team-a")).toBe(one);
    expect(remoteStateDirectory("s3://models/team-b")).not.toBe(one);
    expect(remoteStateDirectory("s3://models/team-a", "http://127.0.0.1:9000")).not.toBe(one);
  });
});

describe("small helpers", () => {
  it("plainEtag drops quotes and the weak marker", () => {
    expect(plainEtag('"abc"')).toBe("abc");
    expect(plainEtag('W/"abc"')).toBe("abc");
    expect(plainEtag("0x1BEA")).toBe("0x1BEA");
    expect(plainEtag(undefined)).toBe("");
  });

  it("sliceStream cuts a byte range out of a stream of chunks", async () => {
    const source = () => Readable.from([Buffer.from("0123"), Buffer.from("4567"), Buffer.from("89")]);
    const read = async (s: Readable) => {
      const chunks: Buffer[] = [];
      for await (const c of s) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString();
    };
    expect(await read(sliceStream(source(), 3, 6))).toBe("3456");
    expect(await read(sliceStream(source(), 8))).toBe("89");
    expect(await read(sliceStream(source(), 10))).toBe("");
    expect(await read(sliceStream(source(), 0, 0))).toBe("0");
  });
});
