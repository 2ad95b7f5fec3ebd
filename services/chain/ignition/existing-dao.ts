import { buildModule } from "@nomicfoundation/ignition-core";
import { EXISTING_DAO_MODULE, policyContracts } from "./parameters.ts";

/**
 * An existing DAO: only the policy registry and the resource allocator, owned from their constructor by
 * the timelock the DAO's governor executes through. Parameters: see parameters.ts.
 */
export default buildModule(EXISTING_DAO_MODULE, (m) =>
  policyContracts(
    m,
    m.getParameter<string>("timelock"),
    m.getParameter<string>("token"),
    m.getParameter<string>("guardianSource"),
  ),
);
