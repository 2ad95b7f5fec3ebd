import { buildModule } from "@nomicfoundation/ignition-core";
import { EXISTING_DAO_MODULE, policyContracts, usageContracts } from "./parameters.ts";

/**
 * An existing DAO: only the policy registry, the resource allocator and the usage anchor, owned from their constructor by
 * the timelock the DAO's governor executes through. Parameters: see parameters.ts.
 */
export default buildModule(EXISTING_DAO_MODULE, (m) => {
  const timelock = m.getParameter<string>("timelock");
  return {
    ...policyContracts(m, timelock, m.getParameter<string>("token"), m.getParameter<string>("guardianSource")),
    ...usageContracts(m, timelock),
  };
});
