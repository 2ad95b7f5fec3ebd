import { formatUnits } from "ethers";
import { governanceOf } from "../chain/deployment.ts";
import { DEV_MODEL_LABEL } from "../gateway/dev-model.ts";
import type { Service } from "./start-service.ts";
import { dataPaths } from "./storage.ts";

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(set)";
  }
}

/**
 * What runs where, for the person who just typed `npm start`: the URLs to use, where the state lives
 * and what survives a restart, and (on the development chain) the accounts with their public keys.
 */
export function describeService(service: Service): string {
  const { config, deployment } = service.deps;
  const { urls, devChain } = service;
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(12)}${value}`);

  lines.push("", `AI Commons is running${devChain ? " on a development chain" : ""}.`, "");
  row("Web app", `${urls.http}/   (proposals, voting with a browser wallet, policies, my AI, operator)`);
  row("GraphQL", `${urls.graphql}   (GraphiQL in a browser: ${urls.graphiql})`);
  row("Gateway", `${urls.gateway}   (OpenAI-compatible base URL; Authorization: Bearer <API key>)`);
  row(
    "Upstream",
    config.upstreams
      ? config.upstreams.map((p) => `${p.name} (${hostOf(p.url)}, weight ${p.weight})`).join(", ")
      : config.UPSTREAM_URL
        ? hostOf(config.UPSTREAM_URL)
        : `${DEV_MODEL_LABEL}: canned text, not an AI`,
  );
  row(
    "Chain RPC",
    devChain
      ? `${urls.rpc}   (Hardhat in-process EVM, chain id ${deployment.chainId}; starts fresh on every start)`
      : `${hostOf(urls.rpc)}   (chain id ${deployment.chainId})`,
  );
  if (config.DATABASE_URL) {
    row("Database", `Postgres at ${hostOf(config.DATABASE_URL)}`);
  } else if (devChain) {
    row("Database", `PGlite in ${dataPaths(config.DATA_DIR).devPglite} (emptied with the chain on every start)`);
  } else {
    row("Database", `PGlite in ${dataPaths(config.DATA_DIR).pglite} (kept across restarts)`);
  }
  row("Deployment", service.deploymentFile);
  const governance = governanceOf(deployment);
  if (governance.origin === "existing") {
    row(
      "Governance",
      `an existing DAO's governor (${governance.clock} clock, ${governance.token} token), indexed from block ${deployment.deployBlock}: ` +
        "proposals, votes and delegation; token balances are not indexed and quorums are read from the governor",
    );
  }
  row("Operations", `${urls.http}/healthz  ${urls.http}/readyz  ${urls.http}/metrics`);
  row(
    "Relayer",
    service.relayer ? `${service.relayer} (relays castVoteBySig ballots)` : "off (RELAYER_PRIVATE_KEY unset)",
  );
  lines.push("", "  Contracts");
  for (const [role, address] of Object.entries(deployment.contracts)) row(`  ${role}`, address);

  if (devChain) {
    const tokens = Number(formatUnits(devChain.tokensPerHolder, 18)).toLocaleString("en-US");
    lines.push(
      "",
      "  Development accounts: Hardhat's PUBLIC test keys. Everyone knows them; never send real funds to them.",
      `  Each holds 10,000 ETH on this chain and ${tokens} governance tokens delegated to itself.`,
    );
    for (const account of devChain.holders) {
      lines.push(`    #${account.index} ${account.address}  key ${account.privateKey}`);
    }
    lines.push(
      "",
      `  Try:  npm run demo                 (the whole flow against this service)`,
      `        npx commons proposals          (the CLI; it signs with COMMONS_PRIVATE_KEY=<a key above>)`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
