/** Tables written by the indexer (migrations/0001_*). */
// biome-ignore lint/complexity/noBannedTypes: filled in by the indexer's tables
export type IndexTables = {};
