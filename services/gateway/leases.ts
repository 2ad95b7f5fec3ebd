import type { SliceKey, SliceSize } from "../db/ledger/leases.ts";

/**
 * This replica's slices of consumers' grants and per-minute limits (gateway_lease): calls admitted
 * against a slice need no ledger round trip before the upstream is called. JavaScript runs one call at
 * a time, so taking from a slice is atomic; the slice itself was taken atomically in Postgres, where it
 * counts as reserved for every other replica's guard.
 *
 * A slice is refilled in the background when half of it is gone, so a busy consumer rarely waits; a call
 * that finds too little room goes through the per-call guard instead. What a slice no longer needs goes
 * back to Postgres once it has been idle for `idleMs`, and everything goes back on close.
 *
 * The slices are leased under an owner (this replica's id and a generation) until an expiry, renewed
 * while the replica can reach Postgres. A replica that could not renew for `ttlMs` stops using them and
 * leases under a new generation: the old leases expire and any replica's sweeper reclaims them
 * (gateway_sweep), so what a dead or cut-off replica held is not stranded until the epoch ends.
 */
export interface Leases {
  /** Takes one request and `amount` tokens from this replica's slices; null (and a refill starts) if short. */
  take(key: SliceKey, amount: number): LeaseTicket | null;
  /**
   * The call admitted on `ticket` was settled and charged `charged` (what it did not use goes back to
   * the slice), or its settlement failed (null): then this generation's leases are given up, and the
   * sweeper reclaims them once expired, since what they still hold is no longer known here.
   */
  finish(ticket: LeaseTicket, charged: number | null): void;
  /**
   * Takes up to `tokens` more from the slice `ticket` was taken from (a call billed beyond its worst
   * case); returns what it got, which the call's settlement then takes out of the lease too.
   */
  takeUpTo(ticket: LeaseTicket, tokens: number): number;
  /** What this replica holds unused: tokens of a grant and requests of a consumer's minute on a model. */
  held(key: Pick<SliceKey, "consumer" | "model" | "minuteStart" | "account" | "epochStart">): {
    requests: number;
    tokens: number;
  };
  /**
   * Gives back, now, this replica's unused slices of a consumer's minute on a model and of the grants
   * `accounts` in an epoch: a call that the guard refuses may fit once they are back. True if any was held.
   */
  surrender(
    key: Pick<SliceKey, "consumer" | "model" | "minuteStart" | "epochStart">,
    accounts: readonly string[],
  ): Promise<boolean>;
  /** Returns every unused slice to Postgres. */
  close(): Promise<void>;
}

/** A call admitted on a slice: the lease it counts against, for its settlement. */
export interface LeaseTicket {
  owner: string;
  key: SliceKey;
  amount: number;
}

type Rows = Pick<SliceKey, "consumer" | "model" | "minuteStart" | "account" | "epochStart">;

export interface LeaseOptions {
  /** This replica's id; leases are taken under it and a generation. */
  replica: string;
  take(owner: string, key: SliceKey, size: SliceSize): Promise<{ requests: number; tokens: number }>;
  /** Gives back unused room; null gives back all the owner's lease row holds. */
  give(owner: string, key: Rows, unused: { requests: number | null; tokens: number | null }): Promise<void>;
  /** Extends the owner's leases; Postgres keeps them a while longer than `ttlMs` (see enforcer.ts). */
  renew(owner: string): Promise<unknown>;
  onError(error: unknown, what: string): void;
  /** A slice unused this long goes back (ms); also how long a refill that got nothing is not retried. */
  idleMs?: number;
  /** Slices are used only while renewed within this (ms). */
  ttlMs?: number;
  /** A slice needs room for this many calls beyond it, and holds at most `maxCalls` calls. */
  minCalls?: number;
  maxCalls?: number;
  clock?: () => number;
}

interface Slice {
  room: number;
  /** Taken by calls not yet finished (tokens: their worst cases; requests: their count). */
  inFlight: number;
  /** The limit in force when the slice was taken (grant tokens, or requests per minute). */
  limit: number;
  /** Size of the last refill: a refill starts when less than half of it is left. */
  granted: number;
  lastUsed: number;
  /** The rows it came from, for returnSlice (the other half of the key is unused there). */
  rows: Rows;
  kind: "requests" | "tokens";
}

export function createLeases(options: LeaseOptions): Leases {
  const idleMs = options.idleMs ?? 1000;
  const ttlMs = options.ttlMs ?? 10_000;
  const minCalls = options.minCalls ?? 64;
  const maxCalls = options.maxCalls ?? 256;
  const clock = options.clock ?? performance.now.bind(performance);
  let generation = 0;
  let owner = `${options.replica}#${generation}`;
  /**
   * Slices are usable until then: the last renewal that succeeded, sent at that time, plus `ttlMs`. A
   * new generation holds nothing yet, and whatever it takes expires later than this in Postgres.
   */
  let validUntil = clock() + ttlMs;
  // Per-minute requests under `r consumer model minute`; grant tokens under `t account epoch`.
  const slices = new Map<string, Slice>();
  const refilling = new Map<string, Promise<void>>();
  /** Refills that got nothing, by key, with when: not retried before `idleMs` has passed. */
  const dry = new Map<string, number>();

  const requestsId = (k: Pick<SliceKey, "consumer" | "model" | "minuteStart">) =>
    `r ${k.consumer} ${k.model} ${k.minuteStart}`;
  const tokensId = (account: string, epochStart: number) => `t ${account} ${epochStart}`;
  const sliceOf = (id: string, kind: Slice["kind"], key: SliceKey) => {
    let slice = slices.get(id);
    if (!slice) {
      const rows =
        kind === "requests"
          ? { consumer: key.consumer, model: key.model, minuteStart: key.minuteStart, account: "", epochStart: 0 }
          : { consumer: "", model: "", minuteStart: 0, account: key.account, epochStart: key.epochStart };
      const limit = kind === "requests" ? key.requestsPerMinute : key.limit;
      slice = { room: 0, inFlight: 0, limit, granted: 0, lastUsed: clock(), rows, kind };
      slices.set(id, slice);
    }
    return slice;
  };

  /** Gives `room` (null: all the lease row holds) of one kind back; a failure leaves it to the sweeper. */
  const give = (leaseOwner: string, kind: Slice["kind"], rows: Rows, room: number | null): Promise<void> =>
    room !== null && room <= 0
      ? Promise.resolve()
      : options
          .give(leaseOwner, rows, kind === "requests" ? { requests: room, tokens: 0 } : { requests: 0, tokens: room })
          .catch((error) => options.onError(error, `returning a ${kind} slice failed`));
  /** No call of this replica is in flight on a released slice: all its lease row holds goes back. */
  const release = (id: string, slice: Slice): Promise<void> => {
    slices.delete(id);
    return give(owner, slice.kind, slice.rows, slice.inFlight === 0 ? null : slice.room);
  };
  /** The slice under `id` if it was taken under `limit`; one taken under another limit goes back. */
  const current = (id: string, limit: number): Slice | undefined => {
    const slice = slices.get(id);
    if (slice && slice.limit !== limit) {
      // A vote changed the limit since the slice was taken: it was sized, and guarded, for the old one.
      void release(id, slice);
      return undefined;
    }
    return slice;
  };
  /**
   * Stops using this generation's leases: their room goes back if Postgres answers, and whatever they
   * still hold is reclaimed by the sweeper once they expire (nothing renews them any more).
   */
  const retire = () => {
    const old = owner;
    for (const slice of slices.values()) void give(old, slice.kind, slice.rows, slice.room);
    slices.clear();
    dry.clear();
    generation++;
    owner = `${options.replica}#${generation}`;
    validUntil = clock() + ttlMs;
  };

  const refill = (key: SliceKey, amount: number, needRequests: boolean, needTokens: boolean) => {
    const id = `${requestsId(key)} ${tokensId(key.account, key.epochStart)}`;
    const dryAt = dry.get(id);
    if (refilling.has(id) || (dryAt !== undefined && clock() - dryAt < idleMs)) return;
    const size: SliceSize = {
      minRequests: minCalls,
      maxRequests: needRequests ? maxCalls : 0,
      minTokens: minCalls * amount,
      maxTokens: needTokens ? maxCalls * amount : 0,
    };
    const leaseOwner = owner;
    const added = (kind: Slice["kind"], sliceId: string, got: number) => {
      if (got <= 0) return;
      if (leaseOwner !== owner) {
        // Retired while the refill was on its way: it belongs to the old generation.
        const rows = kind === "requests" ? key : { ...key, consumer: "", model: "", minuteStart: 0 };
        void give(leaseOwner, kind, rows, got);
        return;
      }
      const slice = sliceOf(sliceId, kind, key);
      slice.room += got;
      slice.granted = got;
    };
    const refilled = options.take(leaseOwner, key, size).then(
      (got) => {
        added("requests", requestsId(key), got.requests);
        added("tokens", tokensId(key.account, key.epochStart), got.tokens);
        if ((needRequests && got.requests === 0) || (needTokens && got.tokens === 0)) dry.set(id, clock());
        else dry.delete(id);
      },
      (error: unknown) => {
        dry.set(id, clock());
        options.onError(error, "taking a budget slice failed");
      },
    );
    refilling.set(
      id,
      refilled.finally(() => refilling.delete(id)),
    );
  };

  /** Returns the slices unused for `idleMs`, or all of them. */
  const sweepIdle = async (all: boolean) => {
    const now = clock();
    const returns: Promise<void>[] = [];
    for (const [id, slice] of slices) if (all || now - slice.lastUsed >= idleMs) returns.push(release(id, slice));
    for (const [id, at] of dry) if (now - at >= idleMs) dry.delete(id);
    await Promise.all(returns);
  };

  let renewing: Promise<void> | null = null;
  const renew = () => {
    if (renewing) return;
    const sentAt = clock();
    const leaseOwner = owner;
    renewing = options
      .renew(leaseOwner)
      .then(
        () => {
          if (leaseOwner === owner) validUntil = Math.max(validUntil, sentAt + ttlMs);
        },
        (error: unknown) => options.onError(error, "renewing the budget slices' leases failed"),
      )
      .finally(() => {
        renewing = null;
      });
  };
  const tick = () => {
    if (slices.size > 0 && clock() >= validUntil) retire();
    renew();
    void sweepIdle(false);
  };
  renew();
  const timer = setInterval(tick, Math.min(idleMs, ttlMs / 4));
  timer.unref();

  return {
    take(key, amount) {
      if (clock() >= validUntil) return null;
      const r = current(requestsId(key), key.requestsPerMinute);
      const t = current(tokensId(key.account, key.epochStart), key.limit);
      const hasRequests = r !== undefined && r.room >= 1;
      const hasTokens = t !== undefined && t.room >= amount;
      if (!hasRequests || !hasTokens) {
        refill(key, amount, !hasRequests, !hasTokens);
        return null;
      }
      r.room -= 1;
      r.inFlight += 1;
      t.room -= amount;
      t.inFlight += amount;
      r.lastUsed = t.lastUsed = clock();
      const lowRequests = r.room < r.granted / 2;
      const lowTokens = t.room < t.granted / 2;
      if (lowRequests || lowTokens) refill(key, amount, lowRequests, lowTokens);
      return { owner, key, amount };
    },
    takeUpTo(ticket, tokens) {
      const t = ticket.owner === owner ? slices.get(tokensId(ticket.key.account, ticket.key.epochStart)) : undefined;
      const taken = Math.max(0, Math.min(tokens, t?.room ?? 0));
      if (t) t.room -= taken;
      return taken;
    },
    finish(ticket, charged) {
      const sameOwner = ticket.owner === owner;
      const r = sameOwner ? slices.get(requestsId(ticket.key)) : undefined;
      const t = sameOwner ? slices.get(tokensId(ticket.key.account, ticket.key.epochStart)) : undefined;
      if (r) r.inFlight -= 1;
      if (t) t.inFlight -= ticket.amount;
      if (charged === null) {
        if (sameOwner) retire();
        return;
      }
      const unused = ticket.amount - charged;
      if (unused <= 0) return;
      if (t) {
        t.room += unused;
        t.lastUsed = clock();
        return;
      }
      // The slice went back (or its generation retired) meanwhile: so does this.
      void give(ticket.owner, "tokens", { ...ticket.key, consumer: "", model: "", minuteStart: 0 }, unused);
    },
    held(key) {
      return {
        requests: slices.get(requestsId(key))?.room ?? 0,
        tokens: slices.get(tokensId(key.account, key.epochStart))?.room ?? 0,
      };
    },
    async surrender(key, accounts) {
      const ids = [requestsId(key), ...accounts.map((account) => tokensId(account, key.epochStart))];
      const returns: Promise<void>[] = [];
      for (const id of ids) {
        const slice = slices.get(id);
        if (slice && slice.room > 0) returns.push(release(id, slice));
      }
      await Promise.all(returns);
      return returns.length > 0;
    },
    async close() {
      clearInterval(timer);
      // A refill still in flight would otherwise add room that nobody gives back.
      await Promise.all(refilling.values());
      await sweepIdle(true);
      await renewing;
    },
  };
}
