// Device tokens and API keys are stored only as salted scrypt hashes and compared in constant time.
// Tokens and generated keys carry 192 bits of randomness, so the hash only has to make a stolen registry
// useless, not slow down guessing; a modest cost keeps 10,000 devices reconnecting after a restart cheap.
// Keys an operator chose (PANTAU_ADMIN_KEY) get the full cost. A verified secret is remembered by its SHA-256
// so a reconnecting device or a busy API client does not pay scrypt again.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export const GENERATED_COST = 1 << 10;
export const CHOSEN_COST = 1 << 15;

export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

export async function hashSecret(secret: string, cost = GENERATED_COST): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(secret, salt, cost);
  return `scrypt$${cost}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, costText, saltText, hashText] = stored.split('$');
  if (scheme !== 'scrypt' || !costText || !saltText || !hashText) return false;
  const expected = Buffer.from(hashText, 'base64');
  const actual = await derive(secret, Buffer.from(saltText, 'base64'), Number(costText));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function fingerprint(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function sameFingerprint(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
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
