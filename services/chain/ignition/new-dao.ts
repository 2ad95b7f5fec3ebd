import { buildModule } from "@nomicfoundation/ignition-core";
import { ZeroAddress } from "ethers";
import { NEW_DAO_MODULE, policyContracts, TIMELOCK_ROLES, usageContracts } from "./parameters.ts";

/**
 * A new DAO: the token with its initial distribution, the timelock, the governor, the policy registry
 * and the resource allocator, and the usage anchor; the registry takes its guardian from the governor. The governor alone may propose and cancel, anyone may execute, and the
 * deployer's temporary timelock admin role is renounced last. Parameters: see parameters.ts.
 */
export default buildModule(NEW_DAO_MODULE, (m) => {
  const deployer = m.getAccount(0);
  const token = m.contract("CommonsToken", [m.getParameter("holders"), m.getParameter("amounts")]);
  const timelock = m.contract("CommonsTimelock", [m.getParameter("timelockDelay"), [], [ZeroAddress], deployer]);
  const governor = m.contract("CommonsGovernor", [token, timelock, m.getParameter("governor")]);
  const { registry, allocator } = policyContracts(m, timelock, token, governor);
  const { usageAnchor } = usageContracts(m, timelock);
  // Roles after every creation (the registry waits for the governor, whose guardian it defers to): the
  // contracts are the deployer's first transactions, which makes a resumed run easy to check.
  const proposer = m.call(timelock, "grantRole", [TIMELOCK_ROLES.proposer, governor], {
    id: "GrantProposerRole",
    after: [registry, allocator, usageAnchor],
  });
  const canceller = m.call(timelock, "grantRole", [TIMELOCK_ROLES.canceller, governor], {
    id: "GrantCancellerRole",
    after: [registry, allocator, usageAnchor],
  });
  m.call(timelock, "renounceRole", [TIMELOCK_ROLES.admin, deployer], {
    id: "RenounceAdminRole",
    after: [proposer, canceller, registry, allocator, usageAnchor],
  });
  return { token, timelock, governor, registry, allocator, usageAnchor };
});
