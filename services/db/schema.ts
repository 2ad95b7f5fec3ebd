import type { ApiTables } from "./api-tables.ts";
import type { GatewayTables } from "./gateway-tables.ts";
import type { IndexTables } from "./index-tables.ts";
import type { LedgerTables } from "./ledger/tables.ts";
import type { NotificationTables } from "./notification-tables.ts";
import type { ReceiptTables } from "./receipt-tables.ts";

/**
 * The whole database, as Kysely sees it. Each part of the service owns the tables it writes:
 * the indexer IndexTables (0001), the gateway GatewayTables (0002: keys, audit), the ledger
 * LedgerTables (0002, 0009: counters, usage, leases), the API ApiTables (0003: sign-in nonces; 0011:
 * quota counters, relay claims), the receipts' anchoring ReceiptTables (0022), notifications
 * NotificationTables (0023: subscriptions, outbox, deliveries).
 */
export interface Database
  extends IndexTables,
    GatewayTables,
    LedgerTables,
    ApiTables,
    ReceiptTables,
    NotificationTables {}
