import { keccak256 } from "ethers";

export type GuidelineOutcome =
  | { kind: "match" }
  | { kind: "differs"; actual: string }
  | { kind: "unchecked"; why: string };

/** Fetches the guideline document and compares its keccak-256 with the hash governance voted on. */
export async function checkGuideline(uri: string, hash: string): Promise<GuidelineOutcome> {
  if (!/^https?:\/\//i.test(uri)) {
    return { kind: "unchecked", why: `the browser cannot fetch ${uri.split(":")[0]}: addresses` };
  }
  let bytes: Uint8Array;
  try {
    const response = await fetch(uri, { signal: AbortSignal.timeout(8000), credentials: "omit" });
    if (!response.ok) return { kind: "unchecked", why: `the document's server answered ${response.status}` };
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch {
    return {
      kind: "unchecked",
      why: "the document could not be fetched (offline, or its site does not allow other sites to read it)",
    };
  }
  const actual = keccak256(bytes);
  return actual.toLowerCase() === hash.toLowerCase() ? { kind: "match" } : { kind: "differs", actual };
}
