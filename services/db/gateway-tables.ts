/** Tables written by the gateway and the API's sign-in (migrations/0002_*, 0003_*). */
// biome-ignore lint/complexity/noBannedTypes: filled in by the gateway's tables
export type GatewayTables = {};
