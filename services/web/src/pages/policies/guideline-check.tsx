import { useQuery } from "@tanstack/preact-query";
import { checkGuideline } from "./guideline.ts";

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
