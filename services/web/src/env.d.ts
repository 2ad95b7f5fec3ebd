/** The contracts' ABIs by role, bundled from the compiled artifacts (services/web/build.ts). */
declare module "virtual:commons-abis" {
  const abis: Record<import("../../chain/contracts.ts").ContractRole, unknown>;
  export default abis;
}

declare module "*.css" {}
