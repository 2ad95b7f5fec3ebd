import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { readCheckpoint } from "../../services/indexer/checkpoint.ts";
import { apiKeyFor, build } from "../helpers/app.ts";

t.test("npm start refuses bad settings, naming each one, and exits 1", async (t) => {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const tsx = createRequire(import.meta.url).resolve("tsx/cli");
  const child = spawn(process.execPath, [tsx, "services/main.ts"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", PORT: "not-a-port", DATABASE_URL: "nowhere", LOG_LEVEL: "loud" },
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c;
  });
  const [code] = await new Promise<[number | null]>((resolve) => child.on("close", (c) => resolve([c])));
  t.equal(code, 1);
  for (const name of ["PORT", "DATABASE_URL", "LOG_LEVEL"]) t.match(stderr, name, `${name} is named`);
});

t.test("on the development chain, a restart starts the database fresh with the new chain", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "commons-restart-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const first = await build(t, { database: "pglite", env: { DATA_DIR: dataDir } });
  await apiKeyFor(first);
  await first.close();

  const second = await build(t, { database: "pglite", env: { DATA_DIR: dataDir } });
  const { db } = second.deps.database;
  t.same(await db.selectFrom("api_keys").select("id").execute(), [], "the earlier chain's keys are gone");
  const checkpoint = await readCheckpoint(db);
  const block = await second.deps.provider.getBlock(checkpoint?.block_number ?? -1);
  t.equal(checkpoint?.block_hash, block?.hash, "the index stands on a block of the new chain");
});

t.test("on the development chain, a Postgres database that already holds an index is refused", async (t) => {
  const url = await createTestDatabase(t);
  const first = await build(t, { env: { DATABASE_URL: url } });
  await first.close();
  await t.rejects(
    build(t, { env: { DATABASE_URL: url } }),
    { code: "CONFIG_INVALID" },
    "CONFIG_INVALID: the index belongs to an earlier chain",
  );
});

t.test("a taken PORT or RPC_PORT is refused before anything starts, naming the setting", async (t) => {
  const taken = createServer().listen(0, "127.0.0.1");
  await once(taken, "listening");
  t.teardown(() => taken.close());
  const port = String((taken.address() as AddressInfo).port);
  await t.rejects(build(t, { env: { PORT: port } }), { code: "CONFIG_INVALID", message: /^PORT / });
  await t.rejects(build(t, { env: { RPC_PORT: port } }), { code: "CONFIG_INVALID", message: /^RPC_PORT / });
});
