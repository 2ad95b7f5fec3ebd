import { createRequire } from "node:module";

/** The slice of autocannon's API the benchmarks use (the package ships no types). */
export interface AutocannonClient {
  setHeaders(headers: Record<string, string>): void;
}

export interface AutocannonResult {
  requests: { total: number };
  non2xx: number;
  errors: number;
}

export interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(event: "response", fn: (client: AutocannonClient, status: number, bytes: number, ms: number) => void): void;
}

export interface AutocannonOptions {
  url: string;
  method: string;
  connections: number;
  duration: number;
  /** Requests per second across all connections (open loop); unset: as fast as answers come back. */
  overallRate?: number;
  headers: Record<string, string>;
  body: string;
  setupClient?: (client: AutocannonClient) => void;
  requests?: {
    onResponse: (status: number, body: string, context: unknown, headers?: Record<string, string>) => void;
  }[];
}

export const autocannon = createRequire(import.meta.url)("autocannon") as (
  options: AutocannonOptions,
) => AutocannonInstance;
