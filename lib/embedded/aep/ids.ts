/**
 * Identifier formats of the resources the AEP stand-in hands out, shaped like AEP's.
 */
import { randomBytes, randomUUID } from 'crypto';

/** Lower-case hex of `bytes` random bytes. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Schema Registry resource id: 32 hex characters. */
export function xdmResourceId(): string {
  return randomHex(16);
}

/** Descriptor `@id`: 40 hex characters. */
export function descriptorId(): string {
  return randomHex(20);
}

/** Catalog object id (datasets): 24 hex characters. */
export function catalogId(): string {
  return randomHex(12);
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Batch id: a ULID (26 Crockford base-32 characters, time-ordered), as AEP batch ids are. */
export function batchId(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[rnd[i]! % 32]; // rnd holds 16 bytes
  return time + tail;
}

/** Query and query template ids: UUIDs. */
export function uuid(): string {
  return randomUUID();
}

/** Request ids for the x-request-id header. */
export function requestId(): string {
  return randomUUID();
}
