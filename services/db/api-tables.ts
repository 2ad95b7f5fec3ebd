/** Tables written by the GraphQL API (migrations/0003_*): sign-in nonces and the like. */
// biome-ignore lint/complexity/noBannedTypes: filled in by the API's tables
export type ApiTables = {};
