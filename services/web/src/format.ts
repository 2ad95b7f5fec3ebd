const integer = new Intl.NumberFormat("en-US");

const ONE_TOKEN = 10n ** 18n;

/**
 * Governance token amounts (18 decimals), e.g. 1,000,000 or 12.5, with at most two decimals. Plain
 * bigint arithmetic: the first page does not load ethers for this.
 */
export function votes(amount: string | bigint): string {
  const value = BigInt(amount);
  const fraction = (value % ONE_TOKEN).toString().padStart(18, "0").slice(0, 2).replace(/0+$/, "");
  return `${integer.format(value / ONE_TOKEN)}${fraction ? `.${fraction}` : ""}`;
}

/** AI compute tokens (whole numbers): 1,000. */
export function tokens(amount: string | bigint | number): string {
  return integer.format(BigInt(amount));
}

export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

export function dateTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** A length of time: "2 d 5 h", "2 h 5 min", "3 min", "40 s". */
export function duration(seconds: number): string {
  const abs = Math.abs(seconds);
  return abs >= 86_400
    ? `${Math.floor(abs / 86_400)} d ${Math.floor((abs % 86_400) / 3600)} h`
    : abs >= 3600
      ? `${Math.floor(abs / 3600)} h ${Math.floor((abs % 3600) / 60)} min`
      : abs >= 60
        ? `${Math.floor(abs / 60)} min`
        : `${abs} s`;
}

/** "in 2 h 5 min", "3 min ago". */
export function relative(unixSeconds: number, nowMs = Date.now()): string {
  const seconds = Math.round(unixSeconds - nowMs / 1000);
  return seconds >= 0 ? `in ${duration(seconds)}` : `${duration(seconds)} ago`;
}

/** A share as a percentage with one decimal, safe for uint256 values. */
export function percent(part: bigint, whole: bigint): string {
  if (whole === 0n) return "0%";
  return `${(Number((part * 1000n) / whole) / 10).toFixed(1)}%`;
}

export function words(value: string): string {
  return value.toLowerCase().replace(/_/g, " ");
}
