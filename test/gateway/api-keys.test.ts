import t from "tap";
import { findApiKey, hashApiKey, issueApiKey, listApiKeys, revokeApiKey } from "../../services/db/api-keys.ts";
import { openDatabase } from "../../services/db/connection.ts";
import { migrateToLatest } from "../../services/db/migrate.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";

const owner = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";
const other = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

t.test(
  "keys are issued to a checksummed address, stored as a hash only, found and revoked by their owner",
  async (t) => {
    const database = await openDatabase({ url: await createTestDatabase(t), poolSize: 2 });
    t.teardown(() => database.close());
    await migrateToLatest(database.db);
    const { db } = database;

    const issued = await issueApiKey(db, { address: owner, label: "laptop" });
    t.match(issued.key, /^sk-commons-[A-Za-z0-9_-]{43}$/);
    t.equal(issued.prefix, issued.key.slice(0, 17));
    const stored = await db.selectFrom("api_keys").selectAll().execute();
    t.equal(stored.length, 1);
    t.equal(stored[0]?.key_hash, hashApiKey(issued.key));
    t.notOk(JSON.stringify(stored).includes(issued.key), "the secret is not stored");

    const found = await findApiKey(db, issued.key);
    t.same(found, { id: issued.id, address: "0x90F79bf6EB2c4f870365E785982E1f101E93b906", revoked: false });
    t.equal(await findApiKey(db, `${issued.key}x`), null);
    t.equal(await findApiKey(db, "not-a-key"), null);

    t.equal(await revokeApiKey(db, { id: issued.id, address: other }), false, "only the owner may revoke");
    t.equal(await revokeApiKey(db, { id: issued.id, address: owner }), true);
    t.equal(await revokeApiKey(db, { id: issued.id, address: owner }), false, "already revoked");
    t.equal((await findApiKey(db, issued.key))?.revoked, true);

    const second = await issueApiKey(db, { address: owner });
    const list = await listApiKeys(db, owner.toUpperCase().replace("0X", "0x"));
    t.same(
      list.map((k) => [k.id, k.label, k.revokedAt !== null]),
      [
        [second.id, null, false],
        [issued.id, "laptop", true],
      ],
    );
    await t.rejects(issueApiKey(db, { address: "0x123" }), { code: "BAD_USER_INPUT" });
  },
);
