import * as fs from "node:fs/promises";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffSubjectOf, diffSubjects } from "../../src/api/diff.js";
import { createApp, type App } from "../../src/server/index.js";
import { waitFor } from "../helpers/project.js";
import { makeFixture, type Fixture } from "./fixture.js";

let fixture: Fixture;
let app: App;

beforeAll(async () => {
  fixture = await makeFixture();
  app = createApp({ repository: fixture.repository, ttlMs: 0 });
});
afterAll(async () => {
  await fixture?.cleanup();
});

async function get(pathAndQuery: string, headers: Record<string, string> = {}, base = "http://127.0.0.1:4000"): Promise<Response> {
  return app.fetch(new Request(`${base}${pathAndQuery}`, { headers }));
}

async function getJson<T = any>(pathAndQuery: string): Promise<{ status: number; body: T }> {
  const response = await get(pathAndQuery);
  return { status: response.status, body: (await response.json()) as T };
}

describe("the experiments listing", () => {
  it("lists every experiment newest first, with the params that vary and best and latest metrics", async () => {
    await waitFor(async () => (await getJson("/api/experiments")).body.total === 4, 10_000, "the running experiment to be published");
    const { status, body } = await getJson("/api/experiments");
    expect(status).toBe(200);
    expect(body.matched).toBe(4);
    expect(body.rows.map((r: any) => r.id).slice(1)).toEqual([...fixture.ids].reverse());
    expect(body.rows[0].id).toBe(fixture.running.id);
    expect(body.rows[0].status).toBe("running");
    // seed differs (1 vs 2) and lr and layers too; layers' elements are not separate columns.
    expect(body.columns.params).toEqual(["params.lr", "params.layers", "params.seed"]);
    expect(body.columns.metrics).toEqual(["accuracy", "loss"]);
    const second = body.rows.find((r: any) => r.id === fixture.ids[1]);
    expect(second.params).toEqual({ "params.layers": "[64,64]", "params.lr": 0.01, "params.seed": 1 });
    expect(second.metrics.loss).toBe(0.3);
    expect(second.latest.loss).toBe(0.3);
    const first = body.rows.find((r: any) => r.id === fixture.ids[0]);
    expect(first.metrics.loss).toBe(0.5); // the best
    expect(first.latest.loss).toBe(0.6); // the latest
    expect(first.step).toBe(1);
    expect(first.primaryMetric).toEqual({ name: "loss", goal: "minimize" });
  });

  it("filters with the CLI's language, sorts by any column both ways, and pages", async () => {
    const filtered = await getJson(`/api/experiments?filter=${encodeURIComponent("params.lr < 0.05 and status = stopped")}`);
    expect(filtered.body.rows.map((r: any) => r.id)).toEqual([fixture.ids[2], fixture.ids[1]]);
    expect(filtered.body.matched).toBe(2);
    expect(filtered.body.total).toBe(4);
    const ascending = await getJson("/api/experiments?sort=metrics.loss:asc&filter=status%3Dstopped");
    expect(ascending.body.rows.map((r: any) => r.metrics.loss)).toEqual([0.3, 0.5, 0.7]);
    const byAccuracy = await getJson("/api/experiments?sort=metrics.accuracy:desc&filter=status%3Dstopped");
    expect(byAccuracy.body.rows.map((r: any) => r.metrics.loss)).toEqual([0.3, 0.5, 0.7]);
    const descending = await getJson("/api/experiments?sort=params.lr:desc");
    expect(descending.body.rows.map((r: any) => r.params["params.lr"])).toEqual([0.5, 0.1, 0.01, 0.001]);
    const page = await getJson("/api/experiments?sort=params.lr:asc&offset=1&limit=2");
    expect(page.body.rows.map((r: any) => r.params["params.lr"])).toEqual([0.01, 0.1]);
    expect(page.body.offset).toBe(1);
    expect(page.body.limit).toBe(2);
  });

  it("explains an invalid filter with its position, and an unknown field with a suggestion", async () => {
    const broken = await getJson(`/api/experiments?filter=${encodeURIComponent("params.lr < ")}`);
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe("INVALID_FILTER");
    expect(typeof broken.body.error.details.position).toBe("number");
    expect(broken.body.error.message).toMatch(/column/);
    const unknown = await getJson(`/api/experiments?filter=${encodeURIComponent("status = running and params.lrr < 1")}`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.position).toBe("status = running and ".length);
    expect(unknown.body.error.message).toContain("did you mean params.lr?");
    const badSort = await getJson("/api/experiments?sort=metrics.loss:sideways");
    expect(badSort.status).toBe(400);
    expect(badSort.body.error.details.sort).toBe("metrics.loss:sideways");
    const badPage = await getJson("/api/experiments?offset=-1");
    expect(badPage.status).toBe(400);
  });
});

describe("an experiment", () => {
  it("is found by a prefix and shown as Experiment.toJSON()", async () => {
    const id = fixture.ids[0]!;
    const { status, body } = await getJson(`/api/experiments/${id.slice(0, 8)}`);
    expect(status).toBe(200);
    const experiment = await fixture.repository.getExperiment(id);
    expect(body).toEqual(JSON.parse(JSON.stringify(experiment.toJSON())));
    expect(body.best.id).toBe(experiment.checkpoints[1]!.id);
    expect(body.git.dirty).toBe(true);
  });

  it("answers 404 for an unknown ID and 400 for something that is no ID", async () => {
    const missing = await getJson("/api/experiments/ffffffffffffffffffffffffffffffff");
    const known = [...fixture.ids, fixture.running.id];
    if (!known.some((id) => id.startsWith("ffffffff"))) {
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe("NOT_FOUND");
    }
    const invalid = await getJson("/api/experiments/not-an-id");
    expect(invalid.status).toBe(400);
  });

  it("gives its metrics as columns against step, and only new checkpoints from an index", async () => {
    const id = fixture.ids[0]!;
    const { body } = await getJson(`/api/experiments/${id}/series`);
    expect(body).toMatchObject({ id, count: 3, from: 0, step: [0, 1, 2], best: 1, primaryMetric: { name: "loss", goal: "minimize" } });
    expect(body.metrics.loss).toEqual([0.9, 0.5, 0.6]);
    expect(body.metrics.accuracy).toEqual([1 - 0.9, 1 - 0.5, 1 - 0.6]); // full precision by default
    const rounded = await getJson(`/api/experiments/${id}/series?digits=6`);
    expect(rounded.body.metrics.accuracy).toEqual([0.1, 0.5, 0.4]);
    const tail = await getJson(`/api/experiments/${id}/series?from=2`);
    expect(tail.body).toMatchObject({ count: 3, from: 2, step: [2] });
    expect(tail.body.metrics.loss).toEqual([0.6]);
  });

  it("shows the git diff recorded at init", async () => {
    const { body } = await getJson(`/api/experiments/${fixture.ids[0]}/diff`);
    expect(body.diff).toContain("diff --git a/train.py b/train.py");
    expect(body.diff).toContain("+for epoch in range(10):");
    expect(body.git.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it("lists the code snapshot and serves each file's text, verified", async () => {
    const id = fixture.ids[0]!;
    const { body } = await getJson(`/api/experiments/${id}/code`);
    const paths = body.files.map((f: any) => f.path);
    expect(paths).toContain("train.py");
    expect(paths).toContain("lib/util.py");
    const file = await get(`/api/experiments/${id}/code/lib/util.py`);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(file.headers.get("content-security-policy")).toContain("sandbox");
    expect(await file.text()).toBe("def train():\n    pass\n");
    const download = await get(`/api/experiments/${id}/code/train.py?download=1`);
    expect(download.headers.get("content-disposition")).toContain('filename="train.py"');
    expect(await download.text()).toBe("for epoch in range(10):\n    train()\n");
    expect((await get(`/api/experiments/${id}/code/nope.py`)).status).toBe(404);
  });

  it("refuses a corrupt code file with an error instead of its bytes", async () => {
    const id = fixture.ids[2]!;
    const { body } = await getJson(`/api/experiments/${id}/code`);
    const readme = body.files.find((f: any) => f.path === "README.md");
    const object = path.join(fixture.dir, ".cairn", "objects", readme.sha256.slice(0, 2), readme.sha256);
    const original = await fs.readFile(object);
    await fs.chmod(object, 0o644);
    await fs.writeFile(object, "# tampered\n");
    try {
      const response = await get(`/api/experiments/${id}/code/README.md`);
      expect(response.status).toBe(500);
      expect(((await response.json()) as any).error.code).toBe("CORRUPT");
    } finally {
      await fs.writeFile(object, original);
    }
  });
});

describe("checkpoints", () => {
  it("lists a checkpoint's files and downloads each through Checkpoint.open", async () => {
    const experiment = await fixture.repository.getExperiment(fixture.ids[1]!);
    const checkpoint = experiment.checkpoints[2]!;
    const { status, body } = await getJson(`/api/checkpoints/${checkpoint.id.slice(0, 10)}`);
    expect(status).toBe(200);
    expect(body.id).toBe(checkpoint.id);
    expect(body.fileList.map((f: any) => f.path).sort()).toEqual(["model/config.json", "model/weights.bin"]);
    const download = await get(`/api/checkpoints/${checkpoint.id}/files/model/weights.bin`);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/octet-stream");
    expect(download.headers.get("content-disposition")).toContain('filename="weights.bin"');
    expect(Buffer.from(await download.arrayBuffer()).toString()).toBe("weights of 0.01 at 2");
    const missing = await get(`/api/checkpoints/${checkpoint.id}/files/model/other.bin`);
    expect(missing.status).toBe(404);
  });
});

describe("paths from requests", () => {
  const attempts = [
    "..%2F..%2Fcairn.json",
    "%2e%2e%2f%2e%2e%2fcairn.json",
    "model%2F..%2F..%2Fcairn.json",
    "%2Fetc%2Fpasswd",
    "..%5C..%5Ccairn.json",
    "model%00.bin",
    "model//weights.bin",
    "%2E%2Fmodel%2Fweights.bin",
  ];

  it("refuses traversal in code file paths", async () => {
    for (const attempt of attempts) {
      const response = await get(`/api/experiments/${fixture.ids[0]}/code/${attempt}`);
      expect(response.status, attempt).toBe(400);
      expect(((await response.json()) as any).error.code, attempt).toBe("UNSAFE_PATH");
    }
  });

  it("refuses traversal in checkpoint file paths", async () => {
    const checkpoint = (await fixture.repository.getExperiment(fixture.ids[0]!)).checkpoints[0]!;
    for (const attempt of attempts) {
      const response = await get(`/api/checkpoints/${checkpoint.id}/files/${attempt}`);
      expect(response.status, attempt).toBe(400);
    }
  });

  it("serves only the built page's own files", async () => {
    const ui = await fs.mkdtemp(path.join(fixture.dir, "ui-"));
    await fs.writeFile(path.join(ui, "index.html"), "<!doctype html><title>cairn</title>");
    await fs.writeFile(path.join(ui, "app.js"), "console.log(1)");
    const page = createApp({ repository: fixture.repository, uiDirectory: ui });
    const fetchPage = (p: string) => page.fetch(new Request(`http://127.0.0.1:4000${p}`));
    const index = await fetchPage("/");
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toContain("text/html");
    expect(await index.text()).toContain("<title>cairn</title>");
    expect(await (await fetchPage("/app.js")).text()).toBe("console.log(1)");
    for (const attempt of ["/../train.py", "/%2e%2e/train.py", "/..%2Ftrain.py", "/ui/../../train.py", "/.cairn/cairn.json", "/%2Fetc%2Fpasswd"]) {
      const response = await fetchPage(attempt);
      expect(response.status, attempt).toBe(404);
    }
  });
});

describe("compare", () => {
  it("returns what differs between experiments", async () => {
    const [a, b] = fixture.ids;
    const { status, body } = await getJson(`/api/compare?ids=${a!.slice(0, 7)},${b}`);
    expect(status).toBe(200);
    expect(body.experiments.map((e: any) => e.id)).toEqual([a, b]);
    // The same differences as `cairn diff` computes.
    const subjects = await Promise.all([a!, b!].map(async (id) => diffSubjectOf(fixture.repository, await fixture.repository.resolve(id))));
    expect(body.differences).toEqual(JSON.parse(JSON.stringify(diffSubjects(subjects))));
    expect(body.differences.params).toEqual([{ key: "lr", values: [0.1, 0.01] }]);
    expect(body.differences.metrics.find((d: any) => d.key === "loss").values).toEqual([0.5, 0.3]);
    expect((await getJson("/api/compare")).status).toBe(400);
  });
});

describe("access", () => {
  it("is read-only", async () => {
    const response = await app.fetch(new Request("http://127.0.0.1:4000/api/experiments", { method: "POST", body: "{}" }));
    expect(response.status).toBe(405);
    const del = await app.fetch(new Request(`http://127.0.0.1:4000/api/experiments/${fixture.ids[0]}`, { method: "DELETE" }));
    expect(del.status).toBe(405);
  });

  it("answers on loopback only to loopback host names (no DNS rebinding)", async () => {
    expect((await get("/api/repository", {}, "http://localhost:4000")).status).toBe(200);
    expect((await get("/api/repository", {}, "http://[::1]:4000")).status).toBe(200);
    const rebound = await get("/api/repository", {}, "http://attacker.example:4000");
    expect(rebound.status).toBe(403);
  });

  it("requires the token on every API request when it has one", async () => {
    const guarded = createApp({ repository: fixture.repository, token: "s3cret-token" });
    const fetchApi = (p: string, headers: Record<string, string> = {}) => guarded.fetch(new Request(`http://192.0.2.10:4000${p}`, { headers }));
    for (const endpoint of ["/api/repository", "/api/experiments", `/api/experiments/${fixture.ids[0]}`, `/api/experiments/${fixture.ids[0]}/code/train.py`]) {
      const refused = await fetchApi(endpoint);
      expect(refused.status, endpoint).toBe(401);
      expect(((await refused.json()) as any).error.code).toBe("UNAUTHORIZED");
      expect((await fetchApi(endpoint, { "x-cairn-token": "wrong-token!" })).status).toBe(401);
      expect((await fetchApi(endpoint, { "x-cairn-token": "s3cret-token" })).status, endpoint).toBe(200);
    }
    expect((await fetchApi("/api/experiments?token=s3cret-token")).status).toBe(200);
  });
});

describe("live updates", () => {
  it("shows a running experiment's new checkpoints", async () => {
    const id = fixture.running.id;
    await fixture.running.checkpoint({ step: 1, metrics: { loss: 1.2 } });
    await fixture.running.checkpoint({ step: 2, metrics: { loss: 1.1 } });
    await waitFor(async () => (await getJson(`/api/experiments/${id}/series`)).body.count === 3, 15_000, "new checkpoints to show");
    const { body } = await getJson(`/api/experiments/${id}/series?from=1`);
    expect(body.step).toEqual([1, 2]);
    expect(body.metrics.loss).toEqual([1.2, 1.1]);
    await waitFor(async () => (await getJson("/api/experiments")).body.rows.find((r: any) => r.id === id)?.checkpoints === 3, 15_000, "the listing to follow");
  });
});
