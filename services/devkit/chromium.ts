import { existsSync } from "node:fs";

/** Debian's chromium (playwright's own download does not work here); CHROMIUM_PATH names another. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Headless, and nothing of chromium's own that would reach the network or slow the start. */
export const chromiumArgs = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Why the browser tests (and the web benchmark) cannot run on this machine, or undefined when they can. */
export function browserMissing(): string | undefined {
  return existsSync(chromiumPath)
    ? undefined
    : `no chromium at ${chromiumPath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`;
}
