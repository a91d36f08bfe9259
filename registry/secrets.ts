// Device tokens and API keys are stored only as salted hashes and compared in constant time.
//
// Secrets Pantau generates (device tokens, API keys) are 32 random bytes: 256 bits. Nobody can guess one, stolen
// hash in hand or not — 2^256 candidates at any hashing speed is out of reach — so their hash needs no work
// factor, only a salt and a keyed one-way function: HMAC-SHA-256 keyed with a per-secret random salt. That makes
// registering 10,000 devices (bulk import, the fleet file) and verifying 10,000 reconnecting devices after a restart
// cost milliseconds instead of the ~20 s scrypt took. A key an operator chose (PANTAU_ADMIN_KEY) may be a weak
// password, so it still gets a memory-hard scrypt at full cost. Hashes written by round 1 (`scrypt$1024$…`) keep
// verifying; scrypt (chosen keys, round-1 hashes) runs one at a time on the thread pool, the HMAC synchronously
// in microseconds without the pool. A verified secret is remembered by its SHA-256 so a reconnecting device or a
// busy API client does not even pay the hash again.
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** Cost 0 = a generated 256-bit secret: salted HMAC-SHA-256, no work factor (see above). */
export const GENERATED_COST = 0;
export const CHOSEN_COST = 1 << 15;

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function hashSecret(secret: string, cost = GENERATED_COST): Promise<string> {
  return cost === GENERATED_COST ? hashGenerated(secret) : hashScrypt(secret, cost);
}

/** Synchronous form for generated secrets (bulk import hashes inside one transaction). */
export function hashGenerated(secret: string): string {
  const salt = randomBytes(16);
  return `hmac-sha256$${salt.toString('base64')}$${hmac(secret, salt).toString('base64')}`;
}

async function hashScrypt(secret: string, cost: number): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(secret, salt, cost);
  return `scrypt$${cost}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === 'hmac-sha256' && parts.length === 3 && parts[1] && parts[2]) {
    return sameFingerprint(hmac(secret, Buffer.from(parts[1], 'base64')), Buffer.from(parts[2], 'base64'));
  }
  const [scheme, costText, saltText, hashText] = parts;
  if (scheme !== 'scrypt' || !costText || !saltText || !hashText) return false;
  const cost = Number(costText);
  // a tampered row must not make scrypt allocate gigabytes
  if (!Number.isInteger(cost) || cost < 2 || cost > 1 << 20) return false;
  const expected = Buffer.from(hashText, 'base64');
  const actual = await derive(secret, Buffer.from(saltText, 'base64'), cost);
  return sameFingerprint(actual, expected);
}

export function fingerprint(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function sameFingerprint(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function hmac(secret: string, salt: Buffer): Buffer {
  return createHmac('sha256', salt).update(secret).digest();
}

// scrypt runs on libuv's thread pool (4 threads), which the ingest log's writes and fsyncs also use. One scrypt
// at a time, and a bounded line behind it: a flood of logins can never take the pool from the log's I/O; past the
// line, a check is refused at once (the client is told to come back) rather than queued without end.
const MAX_CONCURRENT_HASHES = 1;
const MAX_WAITING_HASHES = 2000;
let runningHashes = 0;
const waitingHashes: Array<() => void> = [];

export class HashQueueFullError extends Error {
  constructor() {
    super('too many credential checks waiting; try again shortly');
    this.name = 'HashQueueFullError';
  }
}

async function inHashSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (runningHashes >= MAX_CONCURRENT_HASHES) {
    if (waitingHashes.length >= MAX_WAITING_HASHES) throw new HashQueueFullError();
    await new Promise<void>((resolve) => waitingHashes.push(resolve)); // the slot is handed over, not re-counted
  } else runningHashes++;
  try {
    return await fn();
  } finally {
    const next = waitingHashes.shift();
    if (next) next();
    else runningHashes--;
  }
}

function derive(secret: string, salt: Buffer, cost: number): Promise<Buffer> {
  return inHashSlot(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scrypt(secret, salt, 32, { N: cost, r: 8, p: 1, maxmem: 256 * cost * 8 + 1024 * 1024 }, (err, key) =>
          err ? reject(err) : resolve(key),
        ),
      ),
  );
}
