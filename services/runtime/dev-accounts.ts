import { HDNodeWallet, Mnemonic } from "ethers";

/**
 * Hardhat's development mnemonic. Its keys are public knowledge (printed in Hardhat's documentation):
 * anything sent to these addresses on a real network is taken at once.
 */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

export interface DevAccount {
  index: number;
  address: string;
  privateKey: string;
}

/** The first `count` accounts Hardhat funds on its development chain (m/44'/60'/0'/0/i). */
export function hardhatAccounts(count: number): DevAccount[] {
  const root = HDNodeWallet.fromSeed(Mnemonic.fromPhrase(HARDHAT_MNEMONIC).computeSeed());
  return Array.from({ length: count }, (_, index) => {
    const wallet = root.derivePath(`m/44'/60'/0'/0/${index}`);
    return { index, address: wallet.address, privateKey: wallet.privateKey };
  });
}
