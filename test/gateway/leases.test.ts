import t from "tap";
import { settleCalls, sweepLedger } from "../../services/db/ledger/client.ts";
import { renewLeases, returnSlice, type SliceKey, takeSlice } from "../../services/db/ledger/leases.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { openMigrated } from "../../services/devkit/gateway.ts";
import { until } from "../../services/devkit/until.ts";
import { createLeases, type Leases, type LeaseTicket } from "../../services/gateway/leases.ts";

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

const SIZE = { minRequests: 64, maxRequests: 256, minTokens: 64 * AMOUNT, maxTokens: 256 * AMOUNT };
/** A lease as a replica takes it, under an owner, kept a minute unless renewed. */
const lease = (owner = "replica#0", expiresInMs = 60_000) => ({ owner, expiresInMs });

const errors: unknown[] = [];
let replicas = 0;
/** Leases of one replica on the test database; `refills` holds every slice it asked Postgres for. */
const leasesFor = (idleMs = 60_000, ttlMs = 60_000) => {
  const refills: Promise<unknown>[] = [];
  const expiry = (owner: string) => lease(owner, ttlMs);
  const leases = createLeases({
    replica: `replica${++replicas}`,
    take: (owner, key, size) => {
      const refill = takeSlice(db, expiry(owner), key, size);
      refills.push(refill);
      return refill;
    },
    give: (owner, key, unused) => returnSlice(db, owner, key, unused),
    renew: (owner) => renewLeases(db, expiry(owner)),
    onError: (error) => errors.push(error),
    idleMs,
    ttlMs,
  });
  t.teardown(() => leases.close());
  return { leases, refills };
};

/** Takes until the replica holds a slice (the first take starts the refill in the background). */
const takeOnceSliced = (leases: Leases, key: SliceKey) =>
  until(async () => leases.take(key, AMOUNT) ?? undefined, "a slice to arrive");

/** The lease rows of a key's grant and minute, by owner. */
const leaseRows = (key: SliceKey) =>
  db
    .selectFrom("gateway_leases")
    .select(["owner", "account", "tokens", "requests"])
    .where((eb) =>
      eb.or([
        eb.and([eb("account", "=", key.account), eb("epoch_start", "=", key.epochStart)]),
        eb.and([eb("consumer", "=", key.consumer), eb("minute_start", "=", key.minuteStart)]),
      ]),
    )
    .orderBy("owner")
    .orderBy("account")
    .execute();

let settled = 0;
/** Settles a call admitted on `ticket` as the enforcer does: its charge leaves the slice's lease. */
const settle = (ticket: LeaseTicket, charged: number) => {
  const requestId = `req_${ticket.owner}_${++settled}`;
  return settleCalls(db, [
    {
      requestId,
      consumer: ticket.key.consumer,
      model: ticket.key.model,
      epochStart: ticket.key.epochStart,
      source: { kind: "grant", account: ticket.key.account, grantId: ticket.key.account, limit: ticket.key.limit },
      reserved: charged,
      charged,
      outcome: "COMPLETED",
      latencyMs: 1,
      overheadMs: 1,
      lease: { owner: ticket.owner, minuteStart: ticket.key.minuteStart },
      record: {
        request_id: requestId,
        consumer: ticket.key.consumer,
        endpoint: "chat.completions",
        model_id: ticket.key.model,
        admitted: true,
        outcome: "PENDING",
        source: "grant",
        source_id: ticket.key.account,
        epoch_start: ticket.key.epochStart,
        tokens_reserved: ticket.amount,
      },
    },
  ]);
};

t.test("a slice is at most an eighth of the room and at most maxCalls calls, counted in Postgres", async (t) => {
  const small = keyOf({ limit: 100 * AMOUNT, requestsPerMinute: 1_000 });
  const granted = await takeSlice(db, lease(), small, SIZE);
  t.same(granted, { requests: 1_000 / 8, tokens: (100 * AMOUNT) / 8 }, "an eighth of each room");
  t.match(await rows(small), {
    budget: { used: 0, reserved: (100 * AMOUNT) / 8, budget_limit: 100 * AMOUNT },
    requests: 125,
  });

  const big = keyOf();
  t.same(await takeSlice(db, lease(), big, SIZE), { requests: 256, tokens: 256 * AMOUNT }, "no more than asked");
  t.same(
    await takeSlice(db, lease(), big, { minRequests: 64, maxRequests: 0, minTokens: 64 * AMOUNT, maxTokens: 10 }),
    { requests: 0, tokens: 10 },
    "a part not asked for is not taken",
  );
  t.same(
    await leaseRows(big),
    [
      { owner: "replica#0", account: "", tokens: 0, requests: 256 },
      { owner: "replica#0", account: big.account, tokens: 256 * AMOUNT + 10, requests: 0 },
    ],
    "the owner's lease says what it holds",
  );
});

t.test("no slice is taken from a room below the minimum: the tail of a budget is guarded call by call", async (t) => {
  const key = keyOf({ limit: 63 * AMOUNT, requestsPerMinute: 63 });
  t.same(await takeSlice(db, lease(), key, SIZE), { requests: 0, tokens: 0 });
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
  while (leases.take(key, AMOUNT) !== null) admitted++;
  t.equal(admitted, slice / AMOUNT, "exactly what was leased");
  const { budget } = await rows(key);
  t.ok((budget?.used ?? 0) + (budget?.reserved ?? 0) <= 64 * 8 * AMOUNT, "never beyond the grant");
});

t.test("what a call did not use goes back to the slice; an idle slice goes back to Postgres", async (t) => {
  const { leases } = leasesFor(200);
  const key = keyOf();
  const ticket = await takeOnceSliced(leases, key);
  const before = leases.held(key);
  t.ok(before.tokens > 0 && before.requests > 0);
  await settle(ticket, 0);
  leases.finish(ticket, 0);
  t.equal(leases.held(key).tokens, before.tokens + AMOUNT);
  // The call took a request and gave all its tokens back (it used none): the rest is returned.
  const returned = await until(async () => {
    const r = await rows(key);
    return r.budget?.reserved === 0 ? r : undefined;
  }, "the idle slice to be returned");
  t.equal(returned.requests, 1, "the requests not made go back too");
  t.same(leases.held(key), { requests: 0, tokens: 0 });
  t.same(await leaseRows(key), [], "and the lease is gone");
});

t.test("a call billed beyond its worst case takes the excess from the slice, never below zero", async (t) => {
  const { leases } = leasesFor();
  const key = keyOf();
  const ticket = await takeOnceSliced(leases, key);
  const held = leases.held(key).tokens;
  t.equal(leases.takeUpTo(ticket, AMOUNT), AMOUNT, "what the slice can spare");
  t.equal(leases.held(key).tokens, held - AMOUNT);
  t.equal(leases.takeUpTo(ticket, held * 2), held - AMOUNT, "no more than it holds");
  t.equal(leases.held(key).tokens, 0);
  t.equal(leases.takeUpTo(ticket, AMOUNT), 0, "an empty slice gives nothing");
  t.equal(leases.takeUpTo({ ...ticket, owner: "another#0" }, AMOUNT), 0, "nor does a slice this replica lacks");
});

t.test("a lease nobody renews (its replica died) is reclaimed by the sweeper once expired", async (t) => {
  const key = keyOf();
  const granted = await takeSlice(db, lease("dead#0", 200), key, SIZE);
  t.match(await rows(key), { budget: { reserved: granted.tokens }, requests: granted.requests });
  // Another replica's sweeper, polled until the lease has expired (Postgres's clock decides).
  await until(async () => ((await sweepLedger(db, 60_000)).leases > 0 ? true : undefined), "the lease to expire");
  t.match(await rows(key), { budget: { reserved: 0 }, requests: 0 }, "everything it held went back");
  t.same(await leaseRows(key), []);
  await returnSlice(db, "dead#0", key, { requests: granted.requests, tokens: granted.tokens });
  t.match(await rows(key), { budget: { reserved: 0 }, requests: 0 }, "a late return gives nothing twice");
});

t.test(
  "a replica that renews keeps its slices; one whose settlement failed gives them up to the sweeper",
  async (t) => {
    const { leases } = leasesFor(60_000, 400);
    const key = keyOf();
    const first = await takeOnceSliced(leases, key);
    const held = leases.held(key);
    // Several times the expiry: the replica's renewals keep its lease from the sweeper.
    const renewedUntil = Date.now() + 1_200;
    await until(async () => {
      await sweepLedger(db, 60_000);
      return Date.now() > renewedUntil ? true : undefined;
    }, "a few expiries to pass");
    t.same(leases.held(key), held, "still held");
    t.match(await rows(key), { budget: { reserved: held.tokens + AMOUNT } }, "and still reserved");

    const second = leases.take(key, AMOUNT) as LeaseTicket;
    await settle(first, AMOUNT);
    leases.finish(first, AMOUNT);
    leases.finish(second, null);
    t.same(leases.held(key), { requests: 0, tokens: 0 }, "the old generation's slices are no longer used");
    await until(async () => {
      await sweepLedger(db, 60_000);
      const r = await rows(key);
      return r.budget?.reserved === 0 ? r : undefined;
    }, "the old generation's lease to be reclaimed");
    t.match(await rows(key), { budget: { used: AMOUNT, reserved: 0 } }, "only the settled call is charged");
  },
);

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
