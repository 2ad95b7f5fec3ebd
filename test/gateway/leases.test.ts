import t from "tap";
import { returnSlice, type SliceKey, takeSlice } from "../../services/db/leases.ts";
import { createLeases, type Leases } from "../../services/gateway/leases.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { until } from "../helpers/until.ts";
import { openMigrated } from "./build.ts";

const { db } = await openMigrated(t, await createTestDatabase(t));

const AMOUNT = 10;
let next = 0;
/** A fresh consumer and grant for each test, so that their rows start empty. */
const keyOf = (over: Partial<SliceKey> = {}): SliceKey => {
  next++;
  return {
    consumer: `0xconsumer${next}`,
    model: "m",
    minuteStart: 60_000,
    requestsPerMinute: 1_000_000,
    account: `grant:${next}`,
    epochStart: 0,
    limit: 1_000_000,
    ...over,
  };
};

const rows = async (key: SliceKey) => ({
  budget: await db
    .selectFrom("gateway_budget_counters")
    .select(["used", "reserved", "budget_limit"])
    .where("account", "=", key.account)
    .where("epoch_start", "=", key.epochStart)
    .executeTakeFirst(),
  requests: (
    await db
      .selectFrom("gateway_rate_counters")
      .select("requests")
      .where("consumer", "=", key.consumer)
      .where("model_id", "=", key.model)
      .where("minute_start", "=", key.minuteStart)
      .executeTakeFirst()
  )?.requests,
});

const errors: unknown[] = [];
/** Leases on the test database; `refills` holds every slice it asked Postgres for. */
const leasesFor = (idleMs = 60_000) => {
  const refills: Promise<unknown>[] = [];
  const leases = createLeases({
    take: (key, size) => {
      const refill = takeSlice(db, key, size);
      refills.push(refill);
      return refill;
    },
    give: (key, unused) => returnSlice(db, key, unused),
    onError: (error) => errors.push(error),
    idleMs,
  });
  t.teardown(() => leases.close());
  return { leases, refills };
};

/** Takes until the replica holds a slice (the first take starts the refill in the background). */
const takeOnceSliced = (leases: Leases, key: SliceKey) =>
  until(async () => (leases.take(key, AMOUNT) ? true : undefined), "a slice to arrive");

t.test("a slice is at most an eighth of the room and at most maxCalls calls, counted in Postgres", async (t) => {
  const small = keyOf({ limit: 100 * AMOUNT, requestsPerMinute: 1_000 });
  const granted = await takeSlice(db, small, {
    minRequests: 64,
    maxRequests: 256,
    minTokens: 64 * AMOUNT,
    maxTokens: 256 * AMOUNT,
  });
  t.same(granted, { requests: 1_000 / 8, tokens: (100 * AMOUNT) / 8 }, "an eighth of each room");
  t.match(await rows(small), {
    budget: { used: 0, reserved: (100 * AMOUNT) / 8, budget_limit: 100 * AMOUNT },
    requests: 125,
  });

  const big = keyOf();
  t.same(
    await takeSlice(db, big, { minRequests: 64, maxRequests: 256, minTokens: 64 * AMOUNT, maxTokens: 256 * AMOUNT }),
    { requests: 256, tokens: 256 * AMOUNT },
    "no more than asked",
  );
  t.same(
    await takeSlice(db, big, { minRequests: 64, maxRequests: 0, minTokens: 64 * AMOUNT, maxTokens: 10 }),
    { requests: 0, tokens: 10 },
    "a part not asked for is not taken",
  );
});

t.test("no slice is taken from a room below the minimum: the tail of a budget is guarded call by call", async (t) => {
  const key = keyOf({ limit: 63 * AMOUNT, requestsPerMinute: 63 });
  t.same(
    await takeSlice(db, key, { minRequests: 64, maxRequests: 256, minTokens: 64 * AMOUNT, maxTokens: 256 * AMOUNT }),
    { requests: 0, tokens: 0 },
  );
  t.match(await rows(key), { budget: { reserved: 0 }, requests: 0 });

  const { leases, refills } = leasesFor();
  t.notOk(leases.take(key, AMOUNT), "nothing held: the call takes the per-call guard");
  await Promise.all(refills);
  t.notOk(leases.take(key, AMOUNT));
  t.equal(refills.length, 1, "a refill that got nothing is not retried at once (no round trip per call)");
  t.same(leases.held(key), { requests: 0, tokens: 0 });
});

t.test("calls are admitted in memory against the slice, which never runs past what it holds", async (t) => {
  const { leases } = leasesFor();
  const key = keyOf({ limit: 64 * 8 * AMOUNT });
  await takeOnceSliced(leases, key);
  const slice = (await rows(key)).budget?.reserved as number;
  t.equal(slice, 64 * AMOUNT, "an eighth of the grant");
  // Synchronously, so that no refill lands meanwhile: what one slice admits.
  let admitted = 1;
  while (leases.take(key, AMOUNT)) admitted++;
  t.equal(admitted, slice / AMOUNT, "exactly what was leased");
  const { budget } = await rows(key);
  t.ok((budget?.used ?? 0) + (budget?.reserved ?? 0) <= 64 * 8 * AMOUNT, "never beyond the grant");
});

t.test("what a call did not use goes back to the slice; an idle slice goes back to Postgres", async (t) => {
  const { leases } = leasesFor(200);
  const key = keyOf();
  await takeOnceSliced(leases, key);
  const before = leases.held(key);
  t.ok(before.tokens > 0 && before.requests > 0);
  leases.giveBack(key.account, key.epochStart, AMOUNT);
  t.equal(leases.held(key).tokens, before.tokens + AMOUNT);
  // The call took a request and gave all its tokens back (it used none): the rest is returned.
  const returned = await until(async () => {
    const r = await rows(key);
    return r.budget?.reserved === 0 ? r : undefined;
  }, "the idle slice to be returned");
  t.equal(returned.requests, 1, "the requests not made go back too");
  t.same(leases.held(key), { requests: 0, tokens: 0 });
});

t.test("a call billed beyond its worst case takes the excess from the slice, never below zero", async (t) => {
  const { leases } = leasesFor();
  const key = keyOf();
  await takeOnceSliced(leases, key);
  const held = leases.held(key).tokens;
  t.equal(leases.takeUpTo(key.account, key.epochStart, AMOUNT), AMOUNT, "what the slice can spare");
  t.equal(leases.held(key).tokens, held - AMOUNT);
  t.equal(leases.takeUpTo(key.account, key.epochStart, held * 2), held - AMOUNT, "no more than it holds");
  t.equal(leases.held(key).tokens, 0);
  t.equal(leases.takeUpTo(key.account, key.epochStart, AMOUNT), 0, "an empty slice gives nothing");
  t.equal(leases.takeUpTo("grant:none", key.epochStart, AMOUNT), 0, "nor does a slice this replica lacks");
});

t.test("close gives every slice back", async (t) => {
  const { leases } = leasesFor();
  const key = keyOf();
  await takeOnceSliced(leases, key);
  t.ok(((await rows(key)).budget?.reserved ?? 0) > AMOUNT);
  await leases.close();
  t.match(await rows(key), { budget: { reserved: AMOUNT }, requests: 1 });
  t.same(errors, [], "no slice operation failed");
});

t.test("a slice taken under a limit a vote has since changed is not used: it goes back at once", async (t) => {
  const { leases, refills } = leasesFor();
  const key = keyOf();
  await takeOnceSliced(leases, key);
  const before = leases.held(key).tokens;
  const lowered = { ...key, limit: key.limit / 2 };
  t.notOk(leases.take(lowered, AMOUNT), "the slice was sized and guarded for the old grant");
  t.ok(leases.held(lowered).tokens < before, "and is no longer held");
  await Promise.all(refills);
  // Postgres holds what calls took (one call here) plus what this replica holds: the old slice is gone.
  await until(async () => {
    const r = await rows(key);
    return r.budget?.reserved === AMOUNT + leases.held(lowered).tokens ? true : undefined;
  }, "the old slice to go back");
});
