import type { SliceKey, SliceSize } from "../db/leases.ts";

/**
 * This replica's slices of consumers' grants and per-minute limits (migrations/0007): calls admitted
 * against a slice need no ledger round trip before the upstream is called. JavaScript runs one call at
 * a time, so taking from a slice is atomic; the slice itself was taken atomically in Postgres, where it
 * counts as reserved for every other replica's guard.
 *
 * A slice is refilled in the background when half of it is gone, so a busy consumer rarely waits; a call
 * that finds too little room goes through the per-call guard instead. What a slice no longer needs goes
 * back to Postgres once it has been idle for `idleMs`, and everything goes back on close.
 */
export interface Leases {
  /** Takes one request and `amount` tokens from this replica's slices; false (and a refill starts) if short. */
  take(key: SliceKey, amount: number): boolean;
  /** Takes up to `tokens` more from this replica's slice (a call billed beyond its worst case); returns what it got. */
  takeUpTo(account: string, epochStart: number, tokens: number): number;
  /** Gives back to the slice what a call took and did not use (its worst case minus its charge). */
  giveBack(account: string, epochStart: number, tokens: number): void;
  /** What this replica holds unused: tokens of a grant and requests of a consumer's minute on a model. */
  held(key: Pick<SliceKey, "consumer" | "model" | "minuteStart" | "account" | "epochStart">): {
    requests: number;
    tokens: number;
  };
  /** Returns every unused slice to Postgres. */
  close(): Promise<void>;
}

export interface LeaseOptions {
  take(key: SliceKey, size: SliceSize): Promise<{ requests: number; tokens: number }>;
  give(
    key: Pick<SliceKey, "consumer" | "model" | "minuteStart" | "account" | "epochStart">,
    unused: { requests: number; tokens: number },
  ): Promise<void>;
  onError(error: unknown, what: string): void;
  /** A slice unused this long goes back (ms); also how long a refill that got nothing is not retried. */
  idleMs?: number;
  /** A slice needs room for this many calls beyond it, and holds at most `maxCalls` calls. */
  minCalls?: number;
  maxCalls?: number;
  clock?: () => number;
}

interface Slice {
  room: number;
  /** The limit in force when the slice was taken (grant tokens, or requests per minute). */
  limit: number;
  /** Size of the last refill: a refill starts when less than half of it is left. */
  granted: number;
  lastUsed: number;
  /** The rows it came from, for returnSlice (the other half of the key is unused there). */
  rows: Pick<SliceKey, "consumer" | "model" | "minuteStart" | "account" | "epochStart">;
  kind: "requests" | "tokens";
}

export function createLeases(options: LeaseOptions): Leases {
  const idleMs = options.idleMs ?? 1000;
  const minCalls = options.minCalls ?? 64;
  const maxCalls = options.maxCalls ?? 256;
  const clock = options.clock ?? performance.now.bind(performance);
  // Per-minute requests under `r consumer model minute`; grant tokens under `t account epoch`.
  const slices = new Map<string, Slice>();
  const refilling = new Map<string, Promise<void>>();
  /** Refills that got nothing, by key, with when: not retried before `idleMs` has passed. */
  const dry = new Map<string, number>();

  const requestsId = (k: Pick<SliceKey, "consumer" | "model" | "minuteStart">) =>
    `r ${k.consumer} ${k.model} ${k.minuteStart}`;
  const tokensId = (account: string, epochStart: number) => `t ${account} ${epochStart}`;
  const tokenRows = (account: string, epochStart: number): Slice["rows"] => ({
    consumer: "",
    model: "",
    minuteStart: 0,
    account,
    epochStart,
  });
  const sliceOf = (id: string, kind: Slice["kind"], key: SliceKey) => {
    let slice = slices.get(id);
    if (!slice) {
      const rows =
        kind === "requests"
          ? { consumer: key.consumer, model: key.model, minuteStart: key.minuteStart, account: "", epochStart: 0 }
          : tokenRows(key.account, key.epochStart);
      const limit = kind === "requests" ? key.requestsPerMinute : key.limit;
      slice = { room: 0, limit, granted: 0, lastUsed: clock(), rows, kind };
      slices.set(id, slice);
    }
    return slice;
  };

  /** Gives `room` of one kind back to Postgres; a failure only leaves it reserved (under-admits). */
  const give = (kind: Slice["kind"], rows: Slice["rows"], room: number): Promise<void> =>
    room <= 0
      ? Promise.resolve()
      : options
          .give(rows, kind === "requests" ? { requests: room, tokens: 0 } : { requests: 0, tokens: room })
          .catch((error) => options.onError(error, `returning a ${kind} slice failed`));
  const release = (id: string, slice: Slice): Promise<void> => {
    slices.delete(id);
    return give(slice.kind, slice.rows, slice.room);
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
    const added = (kind: Slice["kind"], sliceId: string, got: number) => {
      if (got <= 0) return;
      const slice = sliceOf(sliceId, kind, key);
      slice.room += got;
      slice.granted = got;
    };
    const refilled = options.take(key, size).then(
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
  const sweep = setInterval(() => void sweepIdle(false), idleMs);
  sweep.unref();

  return {
    take(key, amount) {
      const r = current(requestsId(key), key.requestsPerMinute);
      const t = current(tokensId(key.account, key.epochStart), key.limit);
      const hasRequests = r !== undefined && r.room >= 1;
      const hasTokens = t !== undefined && t.room >= amount;
      if (!hasRequests || !hasTokens) {
        refill(key, amount, !hasRequests, !hasTokens);
        return false;
      }
      r.room -= 1;
      t.room -= amount;
      r.lastUsed = t.lastUsed = clock();
      const lowRequests = r.room < r.granted / 2;
      const lowTokens = t.room < t.granted / 2;
      if (lowRequests || lowTokens) refill(key, amount, lowRequests, lowTokens);
      return true;
    },
    takeUpTo(account, epochStart, tokens) {
      const slice = slices.get(tokensId(account, epochStart));
      const taken = Math.max(0, Math.min(tokens, slice?.room ?? 0));
      if (slice) slice.room -= taken;
      return taken;
    },
    giveBack(account, epochStart, unused) {
      if (unused <= 0) return;
      const slice = slices.get(tokensId(account, epochStart));
      if (slice) {
        slice.room += unused;
        slice.lastUsed = clock();
        return;
      }
      // The slice went back meanwhile: so does this.
      void give("tokens", tokenRows(account, epochStart), unused);
    },
    held(key) {
      return {
        requests: slices.get(requestsId(key))?.room ?? 0,
        tokens: slices.get(tokensId(key.account, key.epochStart))?.room ?? 0,
      };
    },
    async close() {
      clearInterval(sweep);
      // A refill still in flight would otherwise add room that nobody gives back.
      await Promise.all(refilling.values());
      await sweepIdle(true);
    },
  };
}
