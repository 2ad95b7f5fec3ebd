import type { FastifyInstance } from "fastify";
import { periodRecords, periodRow } from "../db/receipts.ts";
import { publicReceiptToJson, RECEIPT_FORMAT } from "../receipts/encoding.ts";
import { periodBounds, publicReceipts } from "../receipts/period.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError, isAppError } from "../shared/errors.ts";

/**
 * GET /receipts/periods/:period: a built period's public receipts as JSON, what its anchor's URI names. Public,
 * so it holds only what a leaf shows (services/receipts/encoding.ts): each receipt's sealed commitment and
 * what the community counts, never a consumer, a request id, a time or a budget, and in the order of the
 * leaves. Read again from the audit records, so a record changed after the period was anchored shows: the
 * file then no longer builds the anchored root (`commons verify --period N --file`).
 */
export default async function receiptsFileRoute(app: FastifyInstance, opts: { deps: Deps }): Promise<void> {
  const { deps } = opts;
  const periodMs = deps.config.ANCHOR_PERIOD_S * 1000;
  app.setErrorHandler((error, _request, reply) =>
    isAppError(error)
      ? reply.code(error.status).send({ error: { code: error.code, message: error.message } })
      : reply.send(error),
  );
  app.get<{ Params: { period: string } }>("/receipts/periods/:period", async (request) => {
    if (!/^[0-9]{1,15}$/.test(request.params.period)) {
      throw new AppError("BAD_USER_INPUT", "the period must be a non-negative integer");
    }
    const period = Number(request.params.period);
    const row = await periodRow(deps.database.db, period);
    if (!row) throw new AppError("NOT_FOUND", `period ${period} is not built yet`);
    if (row.format !== RECEIPT_FORMAT) {
      // Its leaves named consumers in the clear: a file that builds its root would name them too.
      throw new AppError(
        "NOT_FOUND",
        `period ${period} was built in receipt format ${row.format}: its file is withdrawn`,
      );
    }
    const { startsAt, endsAt } = periodBounds(period, periodMs);
    const records = await periodRecords(deps.database.db, startsAt, endsAt);
    return {
      period,
      startsAt: startsAt.toISOString(),
      endsAt: endsAt.toISOString(),
      contract: deps.deployment.usageAnchor ?? null,
      format: RECEIPT_FORMAT,
      receipts: publicReceipts(records).map(publicReceiptToJson),
    };
  });
}
