/**
 * `npm run bench [name...]`: runs every benchmark in bench/ (files named *.bench.ts), or the named
 * ones, one after the other so that they do not disturb each other's figures.
 */
import { readdirSync } from "node:fs";

const wanted = process.argv.slice(2);
const files = readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.bench\.ts$/, "")))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(", ")}`);
  process.exit(2);
}
for (const file of files) {
  const mod = (await import(new URL(file, import.meta.url).href)) as { default: () => Promise<unknown> };
  await mod.default();
}
