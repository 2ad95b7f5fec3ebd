import { dateTime, shortAddress, tokens } from "../format.ts";
import { graphql } from "../gql/gql.ts";
import type { UsageFieldsFragment } from "../gql/graphql.ts";

graphql(`
  fragment UsageFields on Usage { consumer model source grantId epochStart tokensUsed requests }
`);

/** The ledger: tokens used and requests per consumer, model, source and epoch. */
export function UsageTable({ rows, showConsumer }: { rows: UsageFieldsFragment[]; showConsumer: boolean }) {
  return (
    <table>
      <thead>
        <tr>
          {showConsumer ? <th scope="col">Consumer</th> : null}
          <th scope="col">Model</th>
          <th scope="col">Source</th>
          <th scope="col">Epoch from</th>
          <th scope="col">Tokens used</th>
          <th scope="col">Requests</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((u) => (
          <tr key={`${u.consumer}-${u.model}-${u.source}-${u.grantId ?? ""}-${u.epochStart}`}>
            {showConsumer ? <td>{shortAddress(u.consumer)}</td> : null}
            <td>{u.model}</td>
            <td>{u.source === "grant" ? `grant #${u.grantId}` : "community pool"}</td>
            <td>{dateTime(u.epochStart)}</td>
            <td>{tokens(u.tokensUsed)}</td>
            <td>{u.requests}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
