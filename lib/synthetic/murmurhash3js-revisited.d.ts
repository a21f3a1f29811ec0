/** Minimal types for the untyped `murmurhash3js-revisited` package (only what lib/synthetic uses). */
declare module 'murmurhash3js-revisited' {
  interface Hash128 {
    /** MurmurHash3 128-bit; returns 32 lowercase hex chars (for x64: h1 then h2, each big-endian). */
    hash128(bytes: Uint8Array, seed?: number): string;
  }
  export const x64: Hash128;
  export const x86: Hash128 & { hash32(bytes: Uint8Array, seed?: number): number };
}
