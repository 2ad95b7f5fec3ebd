import { AbiCoder, getBytes, hexlify, keccak256, ZeroHash } from "ethers";

/**
 * The timelock operation id GovernorTimelockControl schedules for a proposal:
 * hashOperationBatch(targets, values, calldatas, 0, salt) with salt = bytes20(governor) ^ descriptionHash.
 * Computed off-chain so that CallExecuted/Cancelled on the timelock map back to their proposal, even
 * when someone executes the batch on the timelock directly.
 */
export function timelockOperationId(
  governor: string,
  targets: string[],
  values: bigint[],
  calldatas: string[],
  descriptionHash: string,
): string {
  const salt = getBytes(descriptionHash);
  const prefix = getBytes(governor);
  for (let i = 0; i < prefix.length; i++) salt[i] = (salt[i] as number) ^ (prefix[i] as number);
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"],
      [targets, values, calldatas, ZeroHash, hexlify(salt)],
    ),
  );
}
