import type { CodegenConfig } from "@graphql-codegen/cli";

/**
 * Types for every GraphQL document the web app, the CLI and the demo send, generated from the schema
 * into gitignored folders (by `npm run codegen`, which typecheck and the builds run first): a schema
 * change breaks the build, not a page or a command.
 */
const scalars = { BigInt: "string", Address: "string", Bytes: "string", Timestamp: "number" };

/** The client preset, with documents as plain strings (no GraphQL parser in the browser bundle). */
const client = {
  preset: "client",
  presetConfig: { fragmentMasking: false },
  config: {
    documentMode: "string",
    enumsAsTypes: true,
    useTypeImports: true,
    strictScalars: true,
    scalars,
    avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
    emitLegacyCommonJSImports: false,
  },
} as const;

const config: CodegenConfig = {
  schema: "services/api/schema.graphql",
  generates: {
    "services/web/src/gql/": { ...client, documents: ["services/web/src/**/*.{ts,tsx}", "!services/web/src/gql/**"] },
    "services/cli/gql/": { ...client, documents: ["services/cli/**/*.ts", "!services/cli/gql/**", "scripts/demo.ts"] },
    // The resolvers' types: the scalars as the API holds them inside (services/api/scalars.ts).
    "services/api/generated/resolvers.ts": {
      plugins: ["typescript", "typescript-resolvers"],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        // A field with a default always arrives: the resolver sees it set.
        avoidOptionals: { defaultValue: true },
        strictScalars: true,
        scalars: {
          BigInt: { input: "bigint", output: "bigint | string | number" },
          Address: "string",
          Bytes: "string",
          Timestamp: { input: "number", output: "number" },
        },
        contextType: "../context.ts#ResolverContext",
        mappers: {
          Proposal: "../parents.ts#ProposalRow",
          ProposalEvent: "../parents.ts#ProposalEventRow",
          ProposalConnection: "../parents.ts#CountedConnection<ProposalRow>",
          SetModelPolicyAction: "../parents.ts#ActionNode",
          SuspendModelAction: "../parents.ts#ActionNode",
          GrantAllocationAction: "../parents.ts#ActionNode",
          RevokeAllocationAction: "../parents.ts#ActionNode",
          SetCommunityPoolAction: "../parents.ts#ActionNode",
          SetPoolEligibilityAction: "../parents.ts#ActionNode",
          UpdateGovernorSettingAction: "../parents.ts#ActionNode",
          UnknownAction: "../parents.ts#ActionNode",
          Vote: "../parents.ts#VoteRow",
          VoteConnection: "../parents.ts#CountedConnection<VoteRow>",
          Delegate: "../parents.ts#AccountRow",
          DelegateConnection: "../parents.ts#CountedConnection<AccountRow>",
          ModelPolicy: "../parents.ts#ModelPolicyParent",
          PolicyVersion: "../parents.ts#PolicyVersionRow",
          Grant: "../parents.ts#GrantRow",
          AllocationConnection: "../parents.ts#AllocationConnectionParent",
          CommunityPool: "../parents.ts#PoolRows",
          Usage: "../parents.ts#UsageRow",
          Decision: "../parents.ts#DecisionRow",
          DraftedProposal: "../parents.ts#DraftedProposalParent",
          Receipt: "../parents.ts#ReceiptNode",
          UsagePeriod: "../parents.ts#PeriodView",
          ProposalImpact: "../parents.ts#Impact",
          ImpactReplay: "../parents.ts#ReplayShape",
        },
      },
    },
  },
};

export default config;
