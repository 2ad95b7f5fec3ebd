import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { OUR_GOVERNANCE, readDeployment } from "../../services/chain/deployment.ts";
import { isAppError } from "../../services/shared/errors.ts";

const dir = await mkdtemp(join(tmpdir(), "commons-deployment-file-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const address = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const base = {
  chainId: 1,
  deployBlock: 100,
  deployedAt: "2026-12-01T00:00:00.000Z",
  contracts: { token: address, timelock: address, governor: address, registry: address, allocator: address },
};
const write = async (name: string, value: unknown) => {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(value));
  return path;
};

t.test("a file written before existing DAOs were supported is our own governance", async (t) => {
  const deployment = readDeployment(await write("old.json", base));
  t.same(deployment.governance, OUR_GOVERNANCE);
  t.equal(deployment.contracts.token, "0x5FbDB2315678afecb367f032d93F642f64180aa3", "addresses are checksummed");
});

t.test("an existing DAO's governance is read as written", async (t) => {
  const governance = { origin: "existing", clock: "blocknumber", token: "ERC721Votes" };
  t.same(readDeployment(await write("existing.json", { ...base, governance })).governance, governance);
});

t.test("a governance the service does not know is refused, naming what it accepts", async (t) => {
  const path = await write("bad.json", {
    ...base,
    governance: { origin: "existing", clock: "slots", token: "ERC20Votes" },
  });
  const error = (() => {
    try {
      return readDeployment(path);
    } catch (e) {
      return e;
    }
  })();
  t.ok(isAppError(error, "CONFIG_INVALID"), "CONFIG_INVALID");
  t.match((error as Error).message, /clock \(timestamp\|blocknumber\)/);
});
