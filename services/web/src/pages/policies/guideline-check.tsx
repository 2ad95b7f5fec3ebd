import { useQuery } from "@tanstack/preact-query";
import { keccak256 } from "ethers";

type Outcome = { kind: "match" } | { kind: "differs"; actual: string } | { kind: "unchecked"; why: string };

/** Fetches the guideline document and compares its keccak-256 with the hash governance voted on. */
async function checkGuideline(uri: string, hash: string): Promise<Outcome> {
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

export function GuidelineCheck({ uri, hash }: { uri: string; hash: string }) {
  const check = useQuery({
    queryKey: ["guideline", uri, hash],
    queryFn: () => checkGuideline(uri, hash),
    staleTime: 60_000,
    retry: false,
  });
  const outcome = check.data;
  if (!outcome) return <span aria-busy="true">checking the document…</span>;
  if (outcome.kind === "match") {
    return (
      <span class="success" data-testid="guideline-check">
        ✓ Document checked: its keccak-256 is the hash voted on.
      </span>
    );
  }
  if (outcome.kind === "differs") {
    return (
      <span class="problem" role="alert" data-testid="guideline-check">
        ⚠ The document at this address has changed since the vote: its hash is {outcome.actual.slice(0, 12)}…, not the
        one voted on.
      </span>
    );
  }
  return (
    <span class="muted" data-testid="guideline-check">
      Cannot be checked: {outcome.why}. Fetch it yourself and compare its keccak-256 with the hash.
    </span>
  );
}
