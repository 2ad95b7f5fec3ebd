/** What can stop the wallet before anything is signed; shown in words by <Problem>. */
export type WalletProblemCode = "NO_WALLET" | "NOT_CONNECTED" | "WRONG_CHAIN" | "CHAIN_UNKNOWN";

export class WalletProblem extends Error {
  readonly code: WalletProblemCode;

  constructor(code: WalletProblemCode, message: string) {
    super(message);
    this.name = "WalletProblem";
    this.code = code;
  }
}
