import { readFile } from "node:fs/promises";
import { Wallet } from "ethers";
import { AppError } from "../shared/errors.ts";

/**
 * The wallet commands sign with: an ethers encrypted JSON keystore (`keystore`, its password in
 * COMMONS_KEYSTORE_PASSWORD) or a private key in COMMONS_PRIVATE_KEY. Never from the command line,
 * where other users of the machine and the shell history would see it.
 */
export async function loadWallet(env: NodeJS.ProcessEnv, keystore: string | undefined): Promise<Wallet> {
  const file = keystore ?? env.COMMONS_KEYSTORE;
  if (file) {
    const password = env.COMMONS_KEYSTORE_PASSWORD;
    if (password === undefined) {
      throw new AppError("BAD_USER_INPUT", "the keystore needs its password in COMMONS_KEYSTORE_PASSWORD");
    }
    let json: string;
    try {
      json = await readFile(file, "utf8");
    } catch (cause) {
      throw new AppError("BAD_USER_INPUT", `cannot read the keystore file ${file}`, { cause });
    }
    try {
      return (await Wallet.fromEncryptedJson(json, password)) as Wallet;
    } catch (cause) {
      throw new AppError("BAD_USER_INPUT", `cannot decrypt ${file}: wrong password or not an ethers keystore`, {
        cause,
      });
    }
  }
  const key = env.COMMONS_PRIVATE_KEY;
  if (!key) {
    throw new AppError(
      "BAD_USER_INPUT",
      "this command signs: set COMMONS_PRIVATE_KEY, or pass --keystore <file> with COMMONS_KEYSTORE_PASSWORD",
    );
  }
  try {
    return new Wallet(key);
  } catch (cause) {
    throw new AppError("BAD_USER_INPUT", "COMMONS_PRIVATE_KEY is not a 0x-prefixed 32-byte hex private key", {
      cause,
    });
  }
}
