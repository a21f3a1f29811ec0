/**
 * Synthetic user identity: e-mail address and Experience Cloud ID (ECID).
 *
 * ECID = MurmurHash3 x64 128-bit (seed 0) of the e-mail's UTF-8 bytes, split into its two 64-bit
 * halves h1 and h2 (as the reference MurmurHash3_x64_128 outputs them), each read as a signed
 * int64, absolute value, zero-padded to 19 digits, concatenated: a 38-digit decimal string.
 * (|int64| <= 2^63 = 9223372036854775808, which has 19 digits, so padding never truncates.)
 */
import { x64 } from 'murmurhash3js-revisited';

const ECID_PART_DIGITS = 19;

/** E-mail of synthetic user `index` (0-based: user 0 is synthetic-user-0@example.com). */
export function syntheticEmail(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`user index must be a non-negative safe integer, got ${String(index)}`);
  }
  return `synthetic-user-${index}@example.com`;
}

/** One 64-bit half (16 hex chars, big-endian) -> |signed int64| zero-padded to 19 digits. */
function halfToDigits(hex16: string): string {
  const signed = BigInt.asIntN(64, BigInt(`0x${hex16}`));
  const magnitude = signed < 0n ? -signed : signed;
  return magnitude.toString().padStart(ECID_PART_DIGITS, '0');
}

/**
 * ECID from a 128-bit MurmurHash3 x64 result given as 32 hex chars (h1 then h2, each big-endian,
 * as murmurhash3js-revisited returns it).
 */
export function ecidFromHash128Hex(hex: string): string {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new RangeError(`expected 32 hex characters, got ${JSON.stringify(hex)}`);
  }
  return halfToDigits(hex.slice(0, 16)) + halfToDigits(hex.slice(16, 32));
}

/** 38-digit ECID of an e-mail address (murmur3 x64_128, seed 0, over its UTF-8 bytes). */
export function ecidForEmail(email: string): string {
  if (typeof email !== 'string' || email.length === 0) {
    throw new RangeError(`email must be a non-empty string, got ${JSON.stringify(email)}`);
  }
  return ecidFromHash128Hex(x64.hash128(Buffer.from(email, 'utf8'), 0));
}
