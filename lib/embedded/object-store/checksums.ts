import * as crypto from 'crypto';
import * as fs from 'fs';
import { Transform, TransformCallback } from 'stream';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';
export const CHECKSUM_ALGORITHMS: ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

/** A checksum as sent in `x-amz-checksum-<algorithm>`: the base64 digest. */
export interface Checksum {
  algorithm: ChecksumAlgorithm;
  value: string;
}

interface Hasher {
  update(chunk: Buffer): void;
  digest(): Buffer;
}

function crcTable(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? poly ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const CRC32_TABLE = crcTable(0xedb88320);
const CRC32C_TABLE = crcTable(0x82f63b78);

class CrcHasher implements Hasher {
  private crc = 0xffffffff;
  constructor(private readonly table: Uint32Array) {}
  update(chunk: Buffer): void {
    const t = this.table;
    let c = this.crc;
    // i < chunk.length, and the table has an entry for each of the 256 byte values.
    for (let i = 0; i < chunk.length; i++) c = t[(c ^ chunk[i]!) & 0xff]! ^ (c >>> 8);
    this.crc = c;
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0);
    return out;
  }
}

function createChecksum(algorithm: ChecksumAlgorithm): Hasher | undefined {
  switch (algorithm) {
    case 'crc32': return new CrcHasher(CRC32_TABLE);
    case 'crc32c': return new CrcHasher(CRC32C_TABLE);
    case 'sha1':
    case 'sha256': {
      const h = crypto.createHash(algorithm);
      return { update: (c) => void h.update(c), digest: () => h.digest() };
    }
    // CRC64/NVME needs 64-bit arithmetic that is slow in JS; such checksums are accepted unverified.
    case 'crc64nvme': return undefined;
  }
}

/** Passes bytes through while measuring them, so a body is hashed in the same pass that stores it. */
export class DigestStream extends Transform {
  size = 0;
  md5: Buffer = Buffer.alloc(0);
  sha256Hex?: string | undefined;
  checksum?: Buffer | undefined;
  private readonly md5Hash = crypto.createHash('md5');
  private readonly sha256Hash?: crypto.Hash;
  private readonly checksumHash?: Hasher | undefined;

  constructor(options: { sha256: boolean; checksum?: ChecksumAlgorithm | undefined }) {
    super();
    if (options.sha256) this.sha256Hash = crypto.createHash('sha256');
    if (options.checksum) this.checksumHash = createChecksum(options.checksum);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    this.md5Hash.update(chunk);
    this.sha256Hash?.update(chunk);
    this.checksumHash?.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.md5 = this.md5Hash.digest();
    this.sha256Hex = this.sha256Hash?.digest('hex');
    this.checksum = this.checksumHash?.digest();
    callback();
  }
}

export async function md5OfHandle(handle: fs.promises.FileHandle): Promise<string> {
  const hash = crypto.createHash('md5');
  const buf = Buffer.alloc(1024 * 1024);
  for (let pos = 0; ; ) {
    const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex');
}
