import type { GatewayTables } from "./gateway-tables.ts";
import type { IndexTables } from "./index-tables.ts";

/**
 * The whole database, as Kysely sees it. Each part of the service owns the tables it writes:
 * the indexer writes IndexTables, the gateway and the API's sign-in write GatewayTables.
 */
export interface Database extends IndexTables, GatewayTables {}
