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
    // The resolvers' types, ready for the API to adopt (nothing imports them yet).
    "services/api/generated/resolvers.ts": {
      plugins: ["typescript", "typescript-resolvers"],
      config: { useTypeImports: true, strictScalars: true, scalars, contextType: "../context.ts#ApiContext" },
    },
  },
};

export default config;
