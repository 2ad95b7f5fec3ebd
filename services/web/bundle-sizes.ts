import { readdir, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";

export interface BundleSizes {
  /** What the first page downloads (what index.html names: script, preloads, stylesheet), gzipped bytes. */
  firstPage: number;
  /** Every asset, lazily loaded pages included. */
  all: number;
  files: { name: string; gzip: number }[];
}

/** The built app's assets as the browser downloads them (gzip), from services/web/dist. */
export async function bundleSizes(dist = new URL("./dist/", import.meta.url)): Promise<BundleSizes> {
  const assets = new URL("assets/", dist);
  const files = await Promise.all(
    (await readdir(assets)).map(async (name) => ({
      name,
      gzip: gzipSync(await readFile(new URL(name, assets))).length,
    })),
  );
  const index = await readFile(new URL("index.html", dist), "utf8");
  const named = new Set([...index.matchAll(/\/assets\/([^"']+)/g)].map((m) => m[1]));
  const sum = (list: { gzip: number }[]) => list.reduce((total, f) => total + f.gzip, 0);
  return { firstPage: sum(files.filter((f) => named.has(f.name))), all: sum(files), files };
}
