import { Link } from "wouter-preact";
import { shortAddress, tokens } from "../format.ts";
import { graphql } from "../gql/gql.ts";
import type { DecisionFieldsFragment } from "../gql/graphql.ts";
import { ReceiptStatus } from "./receipt-status.tsx";

graphql(`
  fragment DecisionFields on Decision {
    id requestId createdAt consumer endpoint model purpose admitted reasonCode policyVersion proposalId tokensUsed outcome
  }
`);

export type DecisionRow = DecisionFieldsFragment;

/**
 * Gateway decisions: each call admitted or refused, with its reason code and the policy that decided it, and
 * its receipt read with `token` (the API key or operator token the rows were read with).
 */
export function DecisionsTable({
  rows,
  caption,
  showConsumer,
  token,
}: {
  rows: DecisionRow[];
  caption: string;
  showConsumer: boolean;
  token: string;
}) {
  return (
    <table class="decisions">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          {showConsumer ? <th scope="col">Consumer</th> : null}
          <th scope="col">Model</th>
          <th scope="col">Decision</th>
          <th scope="col">Tokens</th>
          <th scope="col">Decided by</th>
          <th scope="col">Receipt</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((d) => (
          <tr key={d.id} data-testid="decision-row">
            <td>{new Date(d.createdAt).toLocaleString("en-GB")}</td>
            {showConsumer ? <td>{d.consumer ? shortAddress(d.consumer) : "unknown key"}</td> : null}
            <td>
              {d.model}
              {d.purpose ? <span class="muted"> ({d.purpose})</span> : null}
            </td>
            <td class={d.admitted ? "admitted" : "refused"}>
              {d.admitted ? `admitted, ${d.outcome.toLowerCase().replace(/_/g, " ")}` : `refused: ${d.reasonCode}`}
            </td>
            <td>{tokens(d.tokensUsed)}</td>
            <td>
              {d.policyVersion !== null ? `policy v${d.policyVersion}` : "no policy"}
              {d.proposalId ? (
                <>
                  {" "}
                  (<Link href={`/proposals/${d.proposalId}`}>proposal</Link>)
                </>
              ) : null}
            </td>
            <td>
              <ReceiptStatus requestId={d.requestId} token={token} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
