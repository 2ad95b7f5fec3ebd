import { getAddress, isAddress, isHexString } from "ethers";
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from "graphql";

const MAX_UINT256 = 2n ** 256n - 1n;

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}

function literalString(ast: ValueNode, scalar: string): string {
  if (ast.kind === Kind.STRING) return ast.value;
  if (ast.kind === Kind.INT && (scalar === "BigInt" || scalar === "Timestamp")) return ast.value;
  throw badInput(`${scalar} must be given as a string`);
}

function parseBigInt(value: unknown): bigint {
  // Already coerced (a subscription's variables are measured after graphql-js coerced them).
  if (typeof value === "bigint" && value >= 0n && value <= MAX_UINT256) return value;
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== "string" || !/^[0-9]{1,78}$/.test(text)) {
    throw badInput(`BigInt must be a non-negative decimal integer string, got ${JSON.stringify(value)}`);
  }
  const n = BigInt(text);
  if (n > MAX_UINT256) throw badInput("BigInt must fit in 256 bits");
  return n;
}

/** uint256 values: decimal strings on the wire, bigint inside (never a JS number). */
export const BigIntScalar = new GraphQLScalarType<bigint, string>({
  name: "BigInt",
  serialize: (value) => BigInt(value as string | bigint).toString(),
  parseValue: parseBigInt,
  parseLiteral: (ast) => parseBigInt(literalString(ast, "BigInt")),
});

function parseAddress(value: unknown): string {
  if (typeof value !== "string" || !isAddress(value)) {
    throw badInput(`Address must be a 20-byte hex address, got ${JSON.stringify(value)}`);
  }
  // ethers accepts all-lowercase (or all-uppercase) without a checksum and refuses a mixed case whose checksum is wrong.
  return getAddress(value);
}

/** Checksumming hashes the address: a page shows the same few addresses many times over. */
const checksums = new Map<string, string>();
function checksummed(value: string): string {
  let known = checksums.get(value);
  if (known === undefined) {
    known = getAddress(value);
    if (checksums.size >= 10_000) checksums.clear();
    checksums.set(value, known);
  }
  return known;
}

/** Addresses are normalised to their checksum form on the way in, and stored and returned so. */
export const AddressScalar = new GraphQLScalarType<string, string>({
  name: "Address",
  serialize: (value) => checksummed(value as string),
  parseValue: parseAddress,
  parseLiteral: (ast) => parseAddress(literalString(ast, "Address")),
});

function parseBytes(value: unknown): string {
  if (typeof value !== "string" || !isHexString(value) || value.length % 2 !== 0) {
    throw badInput("Bytes must be 0x-prefixed hex with an even number of digits");
  }
  return value;
}

export const BytesScalar = new GraphQLScalarType<string, string>({
  name: "Bytes",
  serialize: (value) => value as string,
  parseValue: parseBytes,
  parseLiteral: (ast) => parseBytes(literalString(ast, "Bytes")),
});

function parseTimestamp(value: unknown): number {
  const n = typeof value === "string" && /^[0-9]{1,15}$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw badInput(`Timestamp must be non-negative Unix seconds, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Unix seconds, as a number (they stay far below 2^53). */
export const TimestampScalar = new GraphQLScalarType<number, number>({
  name: "Timestamp",
  serialize: (value) => Number(value),
  parseValue: parseTimestamp,
  parseLiteral: (ast) => parseTimestamp(literalString(ast, "Timestamp")),
});
