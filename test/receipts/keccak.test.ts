import { keccak_256 } from "@noble/hashes/sha3";
import { hexlify } from "ethers";
import fc from "fast-check";
import t from "tap";
import { keccak256, keccak256Into } from "../../services/receipts/keccak.ts";

t.test("keccak256 is @noble/hashes' keccak_256 on every length around the block's (differential)", async (t) => {
  // Every length up to three blocks: the padding's cases (0x01 and 0x80 in one byte at 135) included.
  for (let length = 0; length <= 3 * 136 + 1; length++) {
    const data = Uint8Array.from({ length }, (_, i) => (i * 131 + length) & 0xff);
    t.equal(hexlify(keccak256(data)), hexlify(keccak_256(data)), `${length} bytes`);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => hexlify(keccak256(data)) === hexlify(keccak_256(data))),
    { numRuns: 500 },
  );
});

t.test("the Ethereum test vectors: the empty input, and one written into a buffer at an offset", async (t) => {
  t.equal(hexlify(keccak256(new Uint8Array(0))), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  const out = new Uint8Array(40).fill(0xee);
  keccak256Into(new TextEncoder().encode("hello"), out, 4);
  t.equal(hexlify(out.subarray(4, 36)), "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8");
  t.same(
    [...out.subarray(0, 4), ...out.subarray(36)],
    [0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee],
    "nothing else",
  );
});
