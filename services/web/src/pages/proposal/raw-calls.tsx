import type { Deployment } from "../../../../chain/contracts.ts";
import { type CheckedCall, contractName } from "./check-calls.ts";

/** The calls exactly as the timelock will make them, each with the result of the re-encode check. */
export function RawCalls({ calls, contracts }: { calls: CheckedCall[]; contracts: Deployment["contracts"] }) {
  return (
    <details class="raw">
      <summary>Raw calls ({calls.length})</summary>
      <table>
        <caption class="visually-hidden">The proposal's calls as sent to the chain</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Target</th>
            <th scope="col">Value (wei)</th>
            <th scope="col">Calldata</th>
            <th scope="col">Matches the words</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((c, i) => (
            <tr key={`${i}-${c.calldata}`}>
              <td>{i + 1}</td>
              <td>
                {contractName(contracts, c.target)}
                <br />
                <code class="break">{c.target}</code>
              </td>
              <td>{c.value}</td>
              <td>
                <code class="break calldata">{c.calldata}</code>
              </td>
              <td>{c.exact ? "✓ exactly" : "⚠ no"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
