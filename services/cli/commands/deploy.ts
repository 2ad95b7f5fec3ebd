import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { FetchRequest, formatEther, formatUnits, getNumber, JsonRpcProvider, type Wallet } from "ethers";
import type { DeployRun, ExistingDao } from "../../chain/deploy.ts";
import { type DeployParameters, newDaoConfig, readDeployParameters } from "../../chain/deploy-parameters.ts";
import { type Deployment, writeDeployment } from "../../chain/deployment.ts";
import { probeExistingDao } from "../../chain/existing-dao.ts";
import { verifyDeployment } from "../../chain/verify-deployment.ts";
import { AppError } from "../../shared/errors.ts";
import type { CliContext } from "../context.ts";

interface DeployFlags {
  parameters: string;
  out?: string;
  journal?: string;
  dryRun?: boolean;
  yes?: boolean;
}

const grouped = (n: bigint) => n.toLocaleString("en-US");

function noFunds(address: string, balance: bigint, cost?: bigint): AppError {
  return new AppError(
    "DEPLOY_NO_FUNDS",
    `the deployer ${address} holds ${formatEther(balance)} ETH` +
      (cost === undefined
        ? ": it cannot pay for any transaction"
        : `; the deployment may cost up to ${formatEther(cost)} ETH`),
    { details: { address, balance: balance.toString(), ...(cost === undefined ? {} : { cost: cost.toString() }) } },
  );
}

/** The chain id the endpoint serves, asked once (ethers' provider would retry an unreachable one forever). */
async function servedChainId(rpc: string): Promise<number> {
  const request = new FetchRequest(rpc);
  request.timeout = 15_000;
  request.setHeader("content-type", "application/json");
  request.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  try {
    const response = await request.send();
    response.assertOk();
    return getNumber((response.bodyJson as { result: string }).result);
  } catch (cause) {
    // The host only: RPC URLs often carry an API key in their path.
    throw new AppError("RPC_ERROR", `cannot reach the chain at ${new URL(rpc).host}`, { cause });
  }
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new AppError("BAD_USER_INPUT", "no terminal to confirm on: pass --yes to deploy without a prompt");
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/**
 * `commons deploy`: checks the chain, the key and (for an existing DAO) the governor and its timelock;
 * compiles with the bundled solc; prints what it would deploy and the gas; then deploys through Ignition
 * (resumable from its journal), writes the deployment file and verifies who owns and may do what.
 */
export function registerDeploy(program: Command, ctx: CliContext) {
  program
    .command("deploy")
    .description("deploy AI Commons to the chain at --rpc: a new DAO, or beside an existing governor")
    .requiredOption("--parameters <file>", "JSON parameters file (see README: Going to a real network)")
    .option("--out <file>", "the deployment file to write (default: deployments/chain-<chainId>.json)")
    .option("--journal <dir>", "Ignition's journal: a rerun resumes from it (default: ignition/deployments/…)")
    .option("--dry-run", "print what would be deployed and its gas, and send nothing")
    .option("--yes", "deploy without asking for confirmation")
    .action(async (flags: DeployFlags) => {
      const params = await readDeployParameters(flags.parameters);
      // No service runs yet: the chain is named by --rpc, and the key is not connected to the service's chain.
      const rpc = ctx.options().rpc;
      if (!rpc) {
        throw new AppError("BAD_USER_INPUT", "commons deploy needs the chain's JSON-RPC URL: --rpc or COMMONS_RPC_URL");
      }
      const wallet = await ctx.signer();
      const chainId = await servedChainId(rpc);
      if (chainId !== params.chainId) {
        throw new AppError(
          "DEPLOY_WRONG_CHAIN",
          `${new URL(rpc).host} serves chain ${chainId}, but the parameters are for chain ${params.chainId}`,
          { details: { served: chainId, expected: params.chainId } },
        );
      }
      const provider = new JsonRpcProvider(rpc, chainId, { staticNetwork: true, cacheTimeout: -1 });
      try {
        await deployChecked(ctx, flags, { params, wallet, rpc, chainId, provider });
      } finally {
        provider.destroy();
      }
    });
}

interface Target {
  params: DeployParameters;
  wallet: Wallet;
  rpc: string;
  chainId: number;
  provider: JsonRpcProvider;
}

async function deployChecked(ctx: CliContext, flags: DeployFlags, target: Target): Promise<void> {
  const { params, wallet, rpc, chainId, provider } = target;
  const dao =
    params.mode === "existing"
      ? await probeExistingDao(provider, {
          governor: params.governor,
          timelock: params.timelock,
          startBlock: params.startBlock,
        })
      : undefined;
  if ((await provider.getBalance(wallet.address)) === 0n) throw noFunds(wallet.address, 0n);
  // Hardhat and Ignition load once the cheap checks have passed, and only for this command.
  const deploy = await import("../../chain/deploy.ts");
  const hardhat = await import("hardhat");
  const newDao = params.mode === "new" ? newDaoConfig(params) : undefined;
  const deployOn = (run: DeployRun): Promise<Deployment> =>
    newDao
      ? deploy.deploySystem(run, newDao)
      : deploy.deployForExistingDao(
          run,
          dao as ExistingDao,
          params.pool,
          params.poolMinVotes,
          params.guardianSuspensionPeriod,
        );

  ctx.progress(
    dao
      ? `Existing DAO on chain ${chainId}: governor ${dao.governor} (${dao.profile.clock} clock), timelock ${dao.timelock}, ${dao.profile.token} token ${dao.token}`
      : `New DAO on chain ${chainId}: token, timelock, governor, policy registry and resource allocator`,
  );
  ctx.progress("Compiling the contracts with the bundled solc…");
  await hardhat.tasks.getTask("build").run({ quiet: true, noTests: true });

  const steps = await deploy.simulateGas(deployOn, rpc);
  const gas = steps.reduce((sum, s) => sum + s.gas, 0n);
  const fees = await provider.getFeeData();
  const price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
  const cost = gas * price;
  const balance = await provider.getBalance(wallet.address);
  const journal = flags.journal ?? join("ignition", "deployments", `commons-${chainId}-${params.mode}`);
  const resuming = existsSync(journal);
  ctx.progress(
    [
      `Plan (gas measured on an in-process EVM; at most ${formatUnits(price, "gwei")} gwei per gas on chain ${chainId}):`,
      ...steps.map((s) => `  ${s.futureId.padEnd(44)} ${grouped(s.gas).padStart(12)} gas`),
      `  ${"total".padEnd(44)} ${grouped(gas).padStart(12)} gas, at most ${formatEther(cost)} ETH`,
      `Deployer ${wallet.address}: balance ${formatEther(balance)} ETH`,
      resuming ? `Resuming from the journal in ${journal}` : `Journal: ${journal}`,
    ].join("\n"),
  );
  // A resumed deployment has already paid for part of it: only an empty balance is refused then.
  if (!resuming && balance < cost) throw noFunds(wallet.address, balance, cost);
  if (flags.dryRun) {
    ctx.print(
      {
        dryRun: true,
        chainId,
        steps: steps.map((s) => ({ futureId: s.futureId, gas: s.gas.toString() })),
        gas: gas.toString(),
        maxCostWei: cost.toString(),
      },
      () => "Dry run: nothing was sent.",
    );
    return;
  }
  if (!flags.yes && !(await confirm(`Deploy to chain ${chainId} from ${wallet.address}?`))) {
    throw new AppError("BAD_USER_INPUT", "deployment not confirmed: nothing was sent");
  }

  // Hardhat's HTTP provider signs with the key, in this process only.
  const connection = await hardhat.network.connect({
    network: "target",
    override: { url: rpc, accounts: [wallet.privateKey] },
  });
  let deployment: Deployment;
  try {
    deployment = await deployOn({
      provider: connection.provider,
      journal,
      ...(params.confirmations ? { confirmations: params.confirmations } : {}),
      onStep: (s) => ctx.progress(`  ${s.confirmed ? "confirmed" : "sent     "} ${s.futureId} ${s.hash}`),
    });
  } finally {
    await connection.close();
  }
  const out = flags.out ?? join("deployments", `chain-${chainId}.json`);
  await mkdir(dirname(out), { recursive: true });
  writeDeployment(out, deployment);
  ctx.progress(`Wrote ${out}`);

  const checks = await verifyDeployment(provider, deployment, wallet.address, newDao);
  ctx.progress(["Checks:", ...checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name} (${c.found})`)].join("\n"));
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    throw new AppError("DEPLOY_VERIFICATION_FAILED", `${failed.length} check(s) failed: ${failed[0]?.name}`, {
      details: { failed },
    });
  }
  ctx.print({ deploymentFile: out, deployment, checks }, () =>
    [
      "Deployed. Start the service on it:",
      `  RPC_URL=<your RPC URL> DEPLOYMENT_FILE=${out} DATABASE_URL=postgres://… npm start`,
    ].join("\n"),
  );
}
