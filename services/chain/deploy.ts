import { ContractFactory, getAddress, id, type Signer, ZeroAddress } from "ethers";
import { type ContractRole, contractInterface, loadArtifact } from "./artifacts.ts";
import type { Deployment } from "./deployment.ts";

/** What a new deployment starts with. Times in seconds, amounts in wei / AI tokens. */
export interface DeployConfig {
  holders: { address: string; amount: bigint }[];
  governor: {
    votingDelay: number;
    votingPeriod: number;
    proposalThreshold: bigint;
    quorumPercent: number;
    lateQuorumExtension: number;
  };
  timelockDelay: number;
  pool: { allowancePerAddress: bigint; poolSizePerEpoch: bigint; epochLength: number };
  /** Voting power (token wei) an address needs at an epoch's start to draw on the pool; 0: every address. */
  poolMinVotes: bigint;
}

/**
 * Settings that suit a development chain: short periods, generous pool, and a pool open to every
 * address (poolMinVotes 0). Eligibility is measured at the epoch's start, and every wallet of a
 * development chain gets its tokens after that (the chain starts with the service, the demo funds new
 * wallets just before it spends): any positive minimum would close the pool to all of them until the
 * next epoch. Tests and real deployments set one (docs/security.md).
 */
export function devDeployConfig(holders: string[], amount = 1_000_000n * 10n ** 18n): DeployConfig {
  return {
    holders: holders.map((address) => ({ address, amount })),
    governor: {
      votingDelay: 1,
      votingPeriod: 300,
      proposalThreshold: 0n,
      quorumPercent: 4,
      lateQuorumExtension: 60,
    },
    timelockDelay: 60,
    pool: { allowancePerAddress: 2_000n, poolSizePerEpoch: 1_000_000n, epochLength: 86_400 },
    poolMinVotes: 0n,
  };
}

/**
 * Deploys and wires the whole system with `deployer` on whatever chain it is connected to: token,
 * timelock, governor, policy registry and resource allocator. The timelock ends up owning the registry
 * and allocator, the governor alone may propose and cancel, anyone may execute, and the deployer keeps
 * no admin role.
 */
export async function deploySystem(deployer: Signer, config: DeployConfig): Promise<Deployment> {
  const provider = deployer.provider;
  if (!provider) throw new Error("deployer must be connected to a provider");
  const deployerAddress = await deployer.getAddress();

  const deploy = async (role: ContractRole, ...args: unknown[]) => {
    const { abi, bytecode } = loadArtifact(role);
    const contract = await new ContractFactory(abi, bytecode, deployer).deploy(...args);
    const receipt = await contract.deploymentTransaction()?.wait();
    return { address: await contract.getAddress(), block: receipt?.blockNumber ?? 0 };
  };

  const token = await deploy(
    "token",
    config.holders.map((h) => getAddress(h.address)),
    config.holders.map((h) => h.amount),
  );
  const timelock = await deploy("timelock", config.timelockDelay, [], [ZeroAddress], deployerAddress);
  const governor = await deploy("governor", token.address, timelock.address, config.governor);
  const registry = await deploy("registry", timelock.address);
  const allocator = await deploy("allocator", timelock.address, token.address, config.pool, config.poolMinVotes);

  const timelockIface = contractInterface("timelock");
  const send = async (data: string) => {
    const tx = await deployer.sendTransaction({ to: timelock.address, data });
    await tx.wait();
  };
  await send(timelockIface.encodeFunctionData("grantRole", [id("PROPOSER_ROLE"), governor.address]));
  await send(timelockIface.encodeFunctionData("grantRole", [id("CANCELLER_ROLE"), governor.address]));
  await send(timelockIface.encodeFunctionData("renounceRole", [`0x${"00".repeat(32)}`, deployerAddress]));

  const network = await provider.getNetwork();
  return {
    chainId: Number(network.chainId),
    contracts: {
      token: token.address,
      timelock: timelock.address,
      governor: governor.address,
      registry: registry.address,
      allocator: allocator.address,
    },
    deployBlock: token.block,
    deployedAt: new Date().toISOString(),
  };
}
