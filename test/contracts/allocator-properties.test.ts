import assert from "node:assert/strict";
import fc from "fast-check";
import t from "tap";
import { createChain, impersonate, revertOf } from "../../services/devkit/chain.ts";

// Properties of the allocator's time arithmetic, checked against the deployed contract through eth_call.
// Assertions inside properties use node:assert so that fast-check reports the shrunk counterexample.
const chain = await createChain({ holders: 1 });
t.teardown(() => chain.close());
const allocator = chain.contract("allocator", await impersonate(chain, chain.deployment.contracts.timelock));
const grantee = chain.signers[1]!.address;

const MAX_UINT64 = 2n ** 64n - 1n;
/** A grant's times are stored in 40 bits (the packed Grant); a later end is refused. */
const MAX_UINT40 = 2n ** 40n - 1n;
const MAX_UINT256 = 2n ** 256n - 1n;

// Small values find off-by-one mistakes, realistic ones are what the gateway asks, huge ones find overflow.
const epochLength = fc.oneof(
  fc.bigInt({ min: 1n, max: 10n }),
  fc.constantFrom(60n, 3_600n, 86_400n, 604_800n),
  fc.bigInt({ min: 1n, max: MAX_UINT64 }),
);
const timestamp = fc.oneof(
  fc.bigInt({ min: 0n, max: 1_000n }),
  fc.bigInt({ min: 1_600_000_000n, max: 2_000_000_000n }),
  fc.bigInt({ min: 0n, max: MAX_UINT256 }),
);

t.test("epochStart(t) is the aligned start of the one epoch that holds t", async (t) => {
  await t.resolves(
    fc.assert(
      fc.asyncProperty(epochLength, timestamp, async (length, at) => {
        await (
          await allocator.setCommunityPool({ allowancePerAddress: 0n, poolSizePerEpoch: 0n, epochLength: length })
        ).wait();
        const start: bigint = await allocator.epochStart(at);
        assert.ok(start <= at && at < start + length, "t lies in [start, start + length)");
        assert.equal(start % length, 0n, "aligned to the length");
        assert.equal(await allocator.epochStart(start), start, "idempotent");
        if (start + length - 1n <= MAX_UINT256) {
          assert.equal(await allocator.epochStart(start + length - 1n), start, "the epoch's last second");
        }
        if (start + length <= MAX_UINT256) {
          assert.equal(await allocator.epochStart(start + length), start + length, "the next epoch starts there");
        }
      }),
      { numRuns: 100 },
    ),
  );
});

t.test("a grant is active exactly from start (inclusive) to end (exclusive) until revoked", async (t) => {
  const period = fc
    .record({
      start: fc.oneof(fc.bigInt({ min: 0n, max: 10n }), fc.bigInt({ min: 0n, max: MAX_UINT40 - 1n })),
      length: fc.oneof(fc.bigInt({ min: 1n, max: 10n }), fc.bigInt({ min: 1n, max: MAX_UINT40 })),
    })
    .map(({ start, length }) => ({ start, end: start + length > MAX_UINT40 ? MAX_UINT40 : start + length }));
  await t.resolves(
    fc.assert(
      fc.asyncProperty(period, timestamp, async ({ start, end }, at) => {
        const grantId: bigint = await allocator.nextGrantId();
        await (await allocator.grant(grantee, "", 1n, start, end)).wait();
        const active = (at: bigint): Promise<boolean> => allocator.isGrantActive(grantId, at);
        if (start > 0n) assert.equal(await active(start - 1n), false, "not before start");
        assert.equal(await active(start), true, "from start");
        assert.equal(await active(end - 1n), true, "until the second before end");
        assert.equal(await active(end), false, "not at end");
        assert.equal(await active(at), start <= at && at < end, "anywhere: start <= t < end");
        assert.equal(await allocator.isGrantActive(grantId + 1n, start), false, "no grant, no allowance");
        await (await allocator.revoke(grantId)).wait();
        assert.equal(await active(start), false, "revoked");
      }),
      { numRuns: 50 },
    ),
  );
});

t.test("a grant cannot end after the 40 bits its packed times hold", async (t) => {
  t.same(await revertOf(allocator.grant(grantee, "", 1n, 0n, MAX_UINT40 + 1n)), {
    name: "AllocatorInvalidPeriod",
    args: [0n, MAX_UINT40 + 1n],
  });
});
