import { dateTime, tokens } from "../format.ts";

export interface BudgetsView {
  epochStart: number;
  epochEnd: number;
  communityPoolLeft: string;
  /** Null, as the budgets: private to the consumer's key and the operator. */
  admitted: boolean | null;
  reason: string | null;
  message: string | null;
  budgets:
    | { source: string; grantId: string | null; granted: string; used: string; reserved: string; left: string }[]
    | null;
}

/** A consumer's budgets on one model this epoch: grants, then the community pool allowance. */
export function Budgets({ status }: { status: BudgetsView }) {
  if (status.budgets === null) {
    return (
      <p>
        Budgets are private: only this consumer's API key or the operator token shows them. Community pool left for
        everyone: {tokens(status.communityPoolLeft)} tokens.
      </p>
    );
  }
  const budgets = status.budgets;
  return (
    <>
      <table class="budgets">
        <caption>
          This epoch: {dateTime(status.epochStart)} to {dateTime(status.epochEnd)}
        </caption>
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col">Granted</th>
            <th scope="col">Used</th>
            <th scope="col">Reserved</th>
            <th scope="col">Left</th>
          </tr>
        </thead>
        <tbody>
          {budgets.map((b) => (
            <tr key={`${b.source}-${b.grantId ?? ""}`} data-testid="budget-row">
              <td>{b.source === "grant" ? `grant #${b.grantId}` : "community pool allowance"}</td>
              <td>{tokens(b.granted)}</td>
              <td>{tokens(b.used)}</td>
              <td>{tokens(b.reserved)}</td>
              <td>{tokens(b.left)}</td>
            </tr>
          ))}
          {budgets.length === 0 ? (
            <tr>
              <td colSpan={5}>No budget on this model this epoch.</td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <p>
        Community pool left for everyone: {tokens(status.communityPoolLeft)} tokens. A call now would be{" "}
        {status.admitted ? (
          <strong class="admitted">admitted</strong>
        ) : (
          <strong class="refused">
            refused: {status.reason} ({status.message})
          </strong>
        )}
        .
      </p>
    </>
  );
}
