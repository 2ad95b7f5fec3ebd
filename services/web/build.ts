import { fileURLToPath } from "node:url";
import { build, type Plugin } from "vite";
import { type ContractRole, contractNames, loadArtifact } from "../chain/artifacts.ts";
import { bundleSizes } from "./bundle-sizes.ts";

const root = fileURLToPath(new URL(".", import.meta.url));

const ABIS_MODULE = "virtual:commons-abis";

/**
 * The contracts' ABIs for the browser (`import abis from "virtual:commons-abis"`), read from the compiled
 * artifacts at build time: the web app decodes and re-encodes proposals with the same ABIs as the service.
 */
function contractAbis(): Plugin {
  return {
    name: "commons-abis",
    resolveId: (source) => (source === ABIS_MODULE ? `\0${ABIS_MODULE}` : undefined),
    load(id) {
      if (id !== `\0${ABIS_MODULE}`) return undefined;
      const roles = Object.keys(contractNames) as ContractRole[];
      return `export default ${JSON.stringify(Object.fromEntries(roles.map((role) => [role, loadArtifact(role).abi])))};`;
    },
  };
}

/** Builds the web app into services/web/dist (gitignored), then prints what the browser downloads, gzipped. */
async function main() {
  await build({
    root,
    configFile: false,
    logLevel: "warn",
    plugins: [contractAbis()],
    oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
    build: { outDir: "dist", emptyOutDir: true, target: "es2022", reportCompressedSize: false },
  });
  const sizes = await bundleSizes();
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
  console.log(
    `web app built in services/web/dist: first page ${kb(sizes.firstPage)} gzip; all assets ${kb(sizes.all)} gzip ` +
      `(${sizes.files.map((f) => `${f.name} ${kb(f.gzip)}`).join(", ")})`,
  );
}

await main();
