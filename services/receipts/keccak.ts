/**
 * keccak256 (Ethereum's: Keccak with the original 0x01 padding, not SHA3-256's) for the receipts' hot loop:
 * the anchoring job hashes each receipt three or four times and each tree node once, and @noble/hashes'
 * keccak_256 (which ethers uses) spends most of a period's build in its generic permutation loop
 * (bench/receipts.bench.ts). Pure TypeScript, no Node-only import: the web app verifies receipts with it too.
 */

const RATE = 136; // bytes absorbed per permutation: 1600 - 2 * 256 bits
const state = new Uint32Array(50);
const block = new Uint8Array(RATE);

/** The 24 round constants of Keccak-f[1600], each as its low and high 32 bits. */
const RC = new Uint32Array([
  0x00000001, 0x00000000, 0x00008082, 0x00000000, 0x0000808a, 0x80000000, 0x80008000, 0x80000000, 0x0000808b,
  0x00000000, 0x80000001, 0x00000000, 0x80008081, 0x80000000, 0x00008009, 0x80000000, 0x0000008a, 0x00000000,
  0x00000088, 0x00000000, 0x80008009, 0x00000000, 0x8000000a, 0x00000000, 0x8000808b, 0x00000000, 0x0000008b,
  0x80000000, 0x00008089, 0x80000000, 0x00008003, 0x80000000, 0x00008002, 0x80000000, 0x00000080, 0x80000000,
  0x0000800a, 0x00000000, 0x8000000a, 0x80000000, 0x80008081, 0x80000000, 0x00008080, 0x80000000, 0x80000001,
  0x00000000, 0x80008008, 0x80000000,
]);

/**
 * Keccak-f[1600] on `s`: 25 lanes, each as two 32-bit words (low, high), unrolled with the state's words in
 * locals (a loop over lanes is about three times slower in V8). Generated from the specification's
 * tables; test/receipts/keccak.test.ts checks it against @noble/hashes on inputs of every length class.
 */
function permute(s: Uint32Array): void {
  let a0 = s[0] as number;
  let a1 = s[1] as number;
  let a2 = s[2] as number;
  let a3 = s[3] as number;
  let a4 = s[4] as number;
  let a5 = s[5] as number;
  let a6 = s[6] as number;
  let a7 = s[7] as number;
  let a8 = s[8] as number;
  let a9 = s[9] as number;
  let a10 = s[10] as number;
  let a11 = s[11] as number;
  let a12 = s[12] as number;
  let a13 = s[13] as number;
  let a14 = s[14] as number;
  let a15 = s[15] as number;
  let a16 = s[16] as number;
  let a17 = s[17] as number;
  let a18 = s[18] as number;
  let a19 = s[19] as number;
  let a20 = s[20] as number;
  let a21 = s[21] as number;
  let a22 = s[22] as number;
  let a23 = s[23] as number;
  let a24 = s[24] as number;
  let a25 = s[25] as number;
  let a26 = s[26] as number;
  let a27 = s[27] as number;
  let a28 = s[28] as number;
  let a29 = s[29] as number;
  let a30 = s[30] as number;
  let a31 = s[31] as number;
  let a32 = s[32] as number;
  let a33 = s[33] as number;
  let a34 = s[34] as number;
  let a35 = s[35] as number;
  let a36 = s[36] as number;
  let a37 = s[37] as number;
  let a38 = s[38] as number;
  let a39 = s[39] as number;
  let a40 = s[40] as number;
  let a41 = s[41] as number;
  let a42 = s[42] as number;
  let a43 = s[43] as number;
  let a44 = s[44] as number;
  let a45 = s[45] as number;
  let a46 = s[46] as number;
  let a47 = s[47] as number;
  let a48 = s[48] as number;
  let a49 = s[49] as number;
  let c0: number,
    c1: number,
    c2: number,
    c3: number,
    c4: number,
    c5: number,
    c6: number,
    c7: number,
    c8: number,
    c9: number;
  let d0: number,
    d1: number,
    d2: number,
    d3: number,
    d4: number,
    d5: number,
    d6: number,
    d7: number,
    d8: number,
    d9: number;
  let b0: number;
  let b1: number;
  let b2: number;
  let b3: number;
  let b4: number;
  let b5: number;
  let b6: number;
  let b7: number;
  let b8: number;
  let b9: number;
  let b10: number;
  let b11: number;
  let b12: number;
  let b13: number;
  let b14: number;
  let b15: number;
  let b16: number;
  let b17: number;
  let b18: number;
  let b19: number;
  let b20: number;
  let b21: number;
  let b22: number;
  let b23: number;
  let b24: number;
  let b25: number;
  let b26: number;
  let b27: number;
  let b28: number;
  let b29: number;
  let b30: number;
  let b31: number;
  let b32: number;
  let b33: number;
  let b34: number;
  let b35: number;
  let b36: number;
  let b37: number;
  let b38: number;
  let b39: number;
  let b40: number;
  let b41: number;
  let b42: number;
  let b43: number;
  let b44: number;
  let b45: number;
  let b46: number;
  let b47: number;
  let b48: number;
  let b49: number;
  for (let round = 0; round < 48; round += 2) {
    c0 = a0 ^ a10 ^ a20 ^ a30 ^ a40;
    c1 = a1 ^ a11 ^ a21 ^ a31 ^ a41;
    c2 = a2 ^ a12 ^ a22 ^ a32 ^ a42;
    c3 = a3 ^ a13 ^ a23 ^ a33 ^ a43;
    c4 = a4 ^ a14 ^ a24 ^ a34 ^ a44;
    c5 = a5 ^ a15 ^ a25 ^ a35 ^ a45;
    c6 = a6 ^ a16 ^ a26 ^ a36 ^ a46;
    c7 = a7 ^ a17 ^ a27 ^ a37 ^ a47;
    c8 = a8 ^ a18 ^ a28 ^ a38 ^ a48;
    c9 = a9 ^ a19 ^ a29 ^ a39 ^ a49;
    d0 = c8 ^ ((c2 << 1) | (c3 >>> 31));
    d1 = c9 ^ ((c3 << 1) | (c2 >>> 31));
    d2 = c0 ^ ((c4 << 1) | (c5 >>> 31));
    d3 = c1 ^ ((c5 << 1) | (c4 >>> 31));
    d4 = c2 ^ ((c6 << 1) | (c7 >>> 31));
    d5 = c3 ^ ((c7 << 1) | (c6 >>> 31));
    d6 = c4 ^ ((c8 << 1) | (c9 >>> 31));
    d7 = c5 ^ ((c9 << 1) | (c8 >>> 31));
    d8 = c6 ^ ((c0 << 1) | (c1 >>> 31));
    d9 = c7 ^ ((c1 << 1) | (c0 >>> 31));
    a0 ^= d0;
    a1 ^= d1;
    a2 ^= d2;
    a3 ^= d3;
    a4 ^= d4;
    a5 ^= d5;
    a6 ^= d6;
    a7 ^= d7;
    a8 ^= d8;
    a9 ^= d9;
    a10 ^= d0;
    a11 ^= d1;
    a12 ^= d2;
    a13 ^= d3;
    a14 ^= d4;
    a15 ^= d5;
    a16 ^= d6;
    a17 ^= d7;
    a18 ^= d8;
    a19 ^= d9;
    a20 ^= d0;
    a21 ^= d1;
    a22 ^= d2;
    a23 ^= d3;
    a24 ^= d4;
    a25 ^= d5;
    a26 ^= d6;
    a27 ^= d7;
    a28 ^= d8;
    a29 ^= d9;
    a30 ^= d0;
    a31 ^= d1;
    a32 ^= d2;
    a33 ^= d3;
    a34 ^= d4;
    a35 ^= d5;
    a36 ^= d6;
    a37 ^= d7;
    a38 ^= d8;
    a39 ^= d9;
    a40 ^= d0;
    a41 ^= d1;
    a42 ^= d2;
    a43 ^= d3;
    a44 ^= d4;
    a45 ^= d5;
    a46 ^= d6;
    a47 ^= d7;
    a48 ^= d8;
    a49 ^= d9;
    b0 = a0;
    b1 = a1;
    b32 = (a11 << 4) | (a10 >>> 28);
    b33 = (a10 << 4) | (a11 >>> 28);
    b14 = (a20 << 3) | (a21 >>> 29);
    b15 = (a21 << 3) | (a20 >>> 29);
    b46 = (a31 << 9) | (a30 >>> 23);
    b47 = (a30 << 9) | (a31 >>> 23);
    b28 = (a40 << 18) | (a41 >>> 14);
    b29 = (a41 << 18) | (a40 >>> 14);
    b20 = (a2 << 1) | (a3 >>> 31);
    b21 = (a3 << 1) | (a2 >>> 31);
    b2 = (a13 << 12) | (a12 >>> 20);
    b3 = (a12 << 12) | (a13 >>> 20);
    b34 = (a22 << 10) | (a23 >>> 22);
    b35 = (a23 << 10) | (a22 >>> 22);
    b16 = (a33 << 13) | (a32 >>> 19);
    b17 = (a32 << 13) | (a33 >>> 19);
    b48 = (a42 << 2) | (a43 >>> 30);
    b49 = (a43 << 2) | (a42 >>> 30);
    b40 = (a5 << 30) | (a4 >>> 2);
    b41 = (a4 << 30) | (a5 >>> 2);
    b22 = (a14 << 6) | (a15 >>> 26);
    b23 = (a15 << 6) | (a14 >>> 26);
    b4 = (a25 << 11) | (a24 >>> 21);
    b5 = (a24 << 11) | (a25 >>> 21);
    b36 = (a34 << 15) | (a35 >>> 17);
    b37 = (a35 << 15) | (a34 >>> 17);
    b18 = (a45 << 29) | (a44 >>> 3);
    b19 = (a44 << 29) | (a45 >>> 3);
    b10 = (a6 << 28) | (a7 >>> 4);
    b11 = (a7 << 28) | (a6 >>> 4);
    b42 = (a17 << 23) | (a16 >>> 9);
    b43 = (a16 << 23) | (a17 >>> 9);
    b24 = (a26 << 25) | (a27 >>> 7);
    b25 = (a27 << 25) | (a26 >>> 7);
    b6 = (a36 << 21) | (a37 >>> 11);
    b7 = (a37 << 21) | (a36 >>> 11);
    b38 = (a47 << 24) | (a46 >>> 8);
    b39 = (a46 << 24) | (a47 >>> 8);
    b30 = (a8 << 27) | (a9 >>> 5);
    b31 = (a9 << 27) | (a8 >>> 5);
    b12 = (a18 << 20) | (a19 >>> 12);
    b13 = (a19 << 20) | (a18 >>> 12);
    b44 = (a29 << 7) | (a28 >>> 25);
    b45 = (a28 << 7) | (a29 >>> 25);
    b26 = (a38 << 8) | (a39 >>> 24);
    b27 = (a39 << 8) | (a38 >>> 24);
    b8 = (a48 << 14) | (a49 >>> 18);
    b9 = (a49 << 14) | (a48 >>> 18);
    a0 = b0 ^ (~b2 & b4);
    a1 = b1 ^ (~b3 & b5);
    a2 = b2 ^ (~b4 & b6);
    a3 = b3 ^ (~b5 & b7);
    a4 = b4 ^ (~b6 & b8);
    a5 = b5 ^ (~b7 & b9);
    a6 = b6 ^ (~b8 & b0);
    a7 = b7 ^ (~b9 & b1);
    a8 = b8 ^ (~b0 & b2);
    a9 = b9 ^ (~b1 & b3);
    a10 = b10 ^ (~b12 & b14);
    a11 = b11 ^ (~b13 & b15);
    a12 = b12 ^ (~b14 & b16);
    a13 = b13 ^ (~b15 & b17);
    a14 = b14 ^ (~b16 & b18);
    a15 = b15 ^ (~b17 & b19);
    a16 = b16 ^ (~b18 & b10);
    a17 = b17 ^ (~b19 & b11);
    a18 = b18 ^ (~b10 & b12);
    a19 = b19 ^ (~b11 & b13);
    a20 = b20 ^ (~b22 & b24);
    a21 = b21 ^ (~b23 & b25);
    a22 = b22 ^ (~b24 & b26);
    a23 = b23 ^ (~b25 & b27);
    a24 = b24 ^ (~b26 & b28);
    a25 = b25 ^ (~b27 & b29);
    a26 = b26 ^ (~b28 & b20);
    a27 = b27 ^ (~b29 & b21);
    a28 = b28 ^ (~b20 & b22);
    a29 = b29 ^ (~b21 & b23);
    a30 = b30 ^ (~b32 & b34);
    a31 = b31 ^ (~b33 & b35);
    a32 = b32 ^ (~b34 & b36);
    a33 = b33 ^ (~b35 & b37);
    a34 = b34 ^ (~b36 & b38);
    a35 = b35 ^ (~b37 & b39);
    a36 = b36 ^ (~b38 & b30);
    a37 = b37 ^ (~b39 & b31);
    a38 = b38 ^ (~b30 & b32);
    a39 = b39 ^ (~b31 & b33);
    a40 = b40 ^ (~b42 & b44);
    a41 = b41 ^ (~b43 & b45);
    a42 = b42 ^ (~b44 & b46);
    a43 = b43 ^ (~b45 & b47);
    a44 = b44 ^ (~b46 & b48);
    a45 = b45 ^ (~b47 & b49);
    a46 = b46 ^ (~b48 & b40);
    a47 = b47 ^ (~b49 & b41);
    a48 = b48 ^ (~b40 & b42);
    a49 = b49 ^ (~b41 & b43);
    a0 ^= RC[round] as number;
    a1 ^= RC[round + 1] as number;
  }
  s[0] = a0;
  s[1] = a1;
  s[2] = a2;
  s[3] = a3;
  s[4] = a4;
  s[5] = a5;
  s[6] = a6;
  s[7] = a7;
  s[8] = a8;
  s[9] = a9;
  s[10] = a10;
  s[11] = a11;
  s[12] = a12;
  s[13] = a13;
  s[14] = a14;
  s[15] = a15;
  s[16] = a16;
  s[17] = a17;
  s[18] = a18;
  s[19] = a19;
  s[20] = a20;
  s[21] = a21;
  s[22] = a22;
  s[23] = a23;
  s[24] = a24;
  s[25] = a25;
  s[26] = a26;
  s[27] = a27;
  s[28] = a28;
  s[29] = a29;
  s[30] = a30;
  s[31] = a31;
  s[32] = a32;
  s[33] = a33;
  s[34] = a34;
  s[35] = a35;
  s[36] = a36;
  s[37] = a37;
  s[38] = a38;
  s[39] = a39;
  s[40] = a40;
  s[41] = a41;
  s[42] = a42;
  s[43] = a43;
  s[44] = a44;
  s[45] = a45;
  s[46] = a46;
  s[47] = a47;
  s[48] = a48;
  s[49] = a49;
}

/** XORs a block of 136 bytes at `at` into the state (lanes are little-endian), then permutes it. */
function absorb(data: Uint8Array, at: number): void {
  for (let i = 0; i < RATE / 4; i++) {
    const j = at + 4 * i;
    state[i] =
      (state[i] as number) ^
      ((data[j] as number) |
        ((data[j + 1] as number) << 8) |
        ((data[j + 2] as number) << 16) |
        ((data[j + 3] as number) << 24));
  }
  permute(state);
}

/** keccak256(data), written as 32 bytes into `out` at `at` (a tree's node array, without an intermediate). */
export function keccak256Into(data: Uint8Array, out: Uint8Array, at: number): void {
  state.fill(0);
  let offset = 0;
  for (; data.length - offset >= RATE; offset += RATE) absorb(data, offset);
  // The last bytes, padded: 0x01 after them, 0x80 in the block's last byte (the same byte when 135 are left).
  const rest = data.length - offset;
  block.fill(0);
  block.set(data.subarray(offset));
  block[rest] = (block[rest] as number) ^ 0x01;
  block[RATE - 1] = (block[RATE - 1] as number) ^ 0x80;
  absorb(block, 0);
  for (let i = 0; i < 8; i++) {
    const word = state[i] as number;
    const j = at + 4 * i;
    out[j] = word & 0xff;
    out[j + 1] = (word >>> 8) & 0xff;
    out[j + 2] = (word >>> 16) & 0xff;
    out[j + 3] = word >>> 24;
  }
}

/** keccak256(data) as 32 new bytes. */
export function keccak256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  keccak256Into(data, out, 0);
  return out;
}
