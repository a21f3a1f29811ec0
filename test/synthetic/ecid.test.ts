import { ecidForEmail, ecidFromHash128Hex, syntheticEmail } from '../../lib/synthetic/ecid';

// ---- independent reference: MurmurHash3_x64_128 in BigInt arithmetic ------------------------------
const MASK64 = (1n << 64n) - 1n;
const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK64;
const add = (a: bigint, b: bigint): bigint => (a + b) & MASK64;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK64;
function fmix64(k: bigint): bigint {
  k ^= k >> 33n;
  k = mul(k, 0xff51afd7ed558ccdn);
  k ^= k >> 33n;
  k = mul(k, 0xc4ceb9fe1a85ec53n);
  k ^= k >> 33n;
  return k;
}
function readLe64(bytes: Uint8Array, offset: number, length: number): bigint {
  let v = 0n;
  for (let i = length - 1; i >= 0; i--) {
    v = (v << 8n) | BigInt(bytes[offset + i]!); // the caller reads within bytes
  }
  return v;
}
/** Returns [h1, h2] as unsigned 64-bit BigInts. */
function murmur3x64_128(bytes: Uint8Array, seed = 0n): [bigint, bigint] {
  let h1 = seed;
  let h2 = seed;
  const nblocks = Math.floor(bytes.length / 16);
  for (let b = 0; b < nblocks; b++) {
    let k1 = readLe64(bytes, b * 16, 8);
    let k2 = readLe64(bytes, b * 16 + 8, 8);
    k1 = mul(rotl(mul(k1, C1), 31n), C2);
    h1 ^= k1;
    h1 = add(mul(add(rotl(h1, 27n), h2), 5n), 0x52dce729n);
    k2 = mul(rotl(mul(k2, C2), 33n), C1);
    h2 ^= k2;
    h2 = add(mul(add(rotl(h2, 31n), h1), 5n), 0x38495ab5n);
  }
  const tail = bytes.length & 15;
  const t = nblocks * 16;
  if (tail > 8) {
    const k2 = mul(rotl(mul(readLe64(bytes, t + 8, tail - 8), C2), 33n), C1);
    h2 ^= k2;
  }
  if (tail > 0) {
    const k1 = mul(rotl(mul(readLe64(bytes, t, Math.min(tail, 8)), C1), 31n), C2);
    h1 ^= k1;
  }
  const len = BigInt(bytes.length);
  h1 ^= len;
  h2 ^= len;
  h1 = add(h1, h2);
  h2 = add(h2, h1);
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 = add(h1, h2);
  h2 = add(h2, h1);
  return [h1, h2];
}
function referenceEcid(email: string): string {
  const [h1, h2] = murmur3x64_128(new TextEncoder().encode(email));
  const part = (h: bigint): string => {
    const s = BigInt.asIntN(64, h);
    return (s < 0n ? -s : s).toString().padStart(19, '0');
  };
  return part(h1) + part(h2);
}

describe('reference murmur3 (sanity of the independent path)', () => {
  it('matches the published mmh3.hash64("foo") pair', () => {
    const [h1, h2] = murmur3x64_128(new TextEncoder().encode('foo'));
    expect(BigInt.asIntN(64, h1)).toBe(-2129773440516405919n);
    expect(BigInt.asIntN(64, h2)).toBe(9128664383759220103n);
  });
});

describe('ecidForEmail', () => {
  it('is |h1|,|h2| of murmur3 x64_128 for the documented mmh3 vector', () => {
    expect(ecidForEmail('foo')).toBe('2129773440516405919' + '9128664383759220103');
  });

  it('matches fixed vectors computed by the BigInt reference', () => {
    // Computed once with the BigInt reference above (independent of murmurhash3js-revisited);
    // user 10 needs zero padding in its second half, user 15 in its first.
    const vectors: Array<[string, string]> = [
      ['synthetic-user-0@example.com', '15862870605681353571784274843271731679'],
      ['synthetic-user-1@example.com', '42983800524622157901436261757834878157'],
      ['synthetic-user-10@example.com', '33111499291212682120919754069489821014'],
      ['synthetic-user-15@example.com', '03024349144507190005402621256390842231'],
    ];
    for (const [email, expected] of vectors) {
      expect(ecidForEmail(email)).toBe(expected);
    }
  });

  it('agrees with the BigInt reference on many inputs, including every tail length and UTF-8', () => {
    const emails: string[] = [];
    for (let i = 0; i < 300; i++) {
      emails.push(syntheticEmail(i));
    }
    for (let len = 1; len <= 40; len++) {
      emails.push('x'.repeat(len));
    }
    emails.push('jürgen@example.com', '用户@example.com', 'emoji-🌈@example.com');
    for (const email of emails) {
      expect(ecidForEmail(email)).toBe(referenceEcid(email));
    }
  });

  it('is 38 digits, deterministic and distinct for distinct e-mails', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const email = syntheticEmail(i);
      const ecid = ecidForEmail(email);
      expect(ecid).toMatch(/^\d{38}$/);
      expect(ecidForEmail(email)).toBe(ecid);
      seen.add(ecid);
    }
    expect(seen.size).toBe(5000);
  });

  it('rejects an empty e-mail', () => {
    expect(() => ecidForEmail('')).toThrow(/email/);
  });
});

describe('ecidFromHash128Hex', () => {
  it('takes the absolute value of each signed half and zero-pads to 19 digits', () => {
    expect(ecidFromHash128Hex('8000000000000000' + 'ffffffffffffffff')).toBe('9223372036854775808' + '0000000000000000001');
    expect(ecidFromHash128Hex('0000000000000000' + '7fffffffffffffff')).toBe('0'.repeat(19) + '9223372036854775807');
    expect(ecidFromHash128Hex('00000000000003e8' + 'fffffffffffffc18')).toBe('0000000000000001000' + '0000000000000001000');
  });

  it('rejects malformed hex', () => {
    expect(() => ecidFromHash128Hex('abc')).toThrow(/32 hex/);
    expect(() => ecidFromHash128Hex('g'.repeat(32))).toThrow(/32 hex/);
  });
});

describe('syntheticEmail', () => {
  it('is 0-based synthetic-user-<n>@example.com', () => {
    expect(syntheticEmail(0)).toBe('synthetic-user-0@example.com');
    expect(syntheticEmail(12345)).toBe('synthetic-user-12345@example.com');
  });

  it('rejects negative or non-integer indexes, naming the value', () => {
    expect(() => syntheticEmail(-1)).toThrow(/-1/);
    expect(() => syntheticEmail(1.5)).toThrow(/1\.5/);
  });
});
