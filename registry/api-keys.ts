// The registry's API keys: created with a secret shown once (`pk_<id>.<secret>`, stored as its scrypt hash), listed
// and changed without it, and checked on every request — from memory, with a fingerprint of each key verified once
// so scrypt runs once per key, not per request. The bootstrap admin key (PANTAU_ADMIN_KEY or a generated one) is
// the key `bootstrap`. A key changed through another node arrives through the registry's `refresh` (`apply`).
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { ApiPrincipal, Role } from './device.js';
import { UNSCOPED, describeScope, sameScope, type Scope } from './scope.js';
import { CHOSEN_COST, GENERATED_COST, fingerprint, hashSecret, newSecret, sameFingerprint, verifySecret } from './secrets.js';
import { NotFoundError, type ReadBack, type RegistryStore, type StoredKey } from './store.js';

/** A key as it is shown: never its secret's hash. */
export type KeyInfo = Omit<StoredKey, 'keyHash'>;

/**
 * Events on the registry: `key-revoked` (id, the scope it had), `key-changed` (id, the scope it had: its role,
 * scope or secret changed).
 */
export class ApiKeys {
  private readonly keys = new Map<string, StoredKey>();
  private readonly verified = new Map<string, { fp: Buffer; principal: ApiPrincipal }>();

  constructor(
    private readonly store: RegistryStore,
    private readonly events: EventEmitter,
    private readonly readBack: ReadBack,
    loaded: StoredKey[],
  ) {
    for (const k of loaded) this.keys.set(k.id, k);
  }

  async create(name: string, role: Role, actor: string, scope: Scope = UNSCOPED): Promise<{ id: string; name: string; role: Role; scope: Scope; key: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = newSecret();
    const key = `pk_${id}.${secret}`;
    const keyHash = await hashSecret(secret, GENERATED_COST);
    const createdAt = Date.now();
    const row: StoredKey = { id, name, role, keyHash, scope, createdAt };
    await this.store.insertKey(row, createdAt, { actor, action: 'key.created', target: `${id} (${role}, scope ${describeScope(scope)})` });
    this.keys.set(id, row);
    return { id, name, role, scope, key };
  }

  /** The API keys (never their secrets), oldest first. */
  list(): KeyInfo[] {
    return [...this.keys.values()]
      .map(({ keyHash: _hash, ...k }) => k)
      .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || a.id.localeCompare(b.id));
  }

  get(id: string): KeyInfo | undefined {
    const k = this.keys.get(id);
    if (!k) return undefined;
    const { keyHash: _hash, ...rest } = k;
    return rest;
  }

  /** All ids, for a reload that compares what the store has with what is cached. */
  ids(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * A key's name, role or scope. A change of role or scope ends its console sessions and live streams (event
   * `key-changed`) so nothing keeps what the key no longer has.
   */
  async update(id: string, patch: { name?: string; role?: Role; scope?: Scope }, actor: string): Promise<KeyInfo> {
    const current = this.keys.get(id);
    if (!current) throw new NotFoundError(`API key ${id} does not exist`);
    const next: StoredKey = { ...current, name: patch.name ?? current.name, role: patch.role ?? current.role, scope: patch.scope ?? current.scope };
    const what = [
      ...(next.name !== current.name ? [`name ${JSON.stringify(next.name)}`] : []),
      ...(next.role !== current.role ? [`role ${current.role} → ${next.role}`] : []),
      ...(!sameScope(next.scope, current.scope) ? [`scope ${describeScope(current.scope)} → ${describeScope(next.scope)}`] : []),
    ];
    const stored = await this.store.updateKey(next, { actor, action: 'key.updated', target: `${id}: ${what.join(', ') || 'unchanged'}` });
    if (!stored) {
      if (this.keys.has(id)) this.uncache(id);
      throw new NotFoundError(`API key ${id} does not exist`);
    }
    this.apply(id, next);
    return this.get(id)!;
  }

  async delete(id: string, actor: string): Promise<void> {
    const stored = await this.store.deleteKey(id, { actor, action: 'key.revoked', target: id });
    if (!stored) throw new NotFoundError(`API key ${id} does not exist`);
    this.uncache(id);
  }

  /** Make `key` the bootstrap admin key (PANTAU_ADMIN_KEY or a generated one). */
  async setBootstrap(key: string): Promise<void> {
    const principal: ApiPrincipal = { type: 'key', id: 'bootstrap', name: 'bootstrap admin', role: 'admin', scope: UNSCOPED };
    const row = this.keys.get('bootstrap');
    if (row && (await verifySecret(key, row.keyHash))) {
      this.remember(key, principal);
      return;
    }
    const stored: StoredKey = { id: 'bootstrap', name: 'bootstrap admin', role: 'admin', keyHash: await hashSecret(key, CHOSEN_COST), scope: UNSCOPED };
    await this.store.upsertKey(stored, Date.now());
    this.keys.set('bootstrap', stored);
    this.forgetVerified('bootstrap');
    this.remember(key, principal);
  }

  hasBootstrap(): boolean {
    return this.keys.has('bootstrap');
  }

  /** True when `key` was verified before (no scrypt needed to know it). */
  isVerified(key: string): boolean {
    return this.verified.get(fingerprint(key).toString('base64')) !== undefined;
  }

  async authenticate(key: string): Promise<ApiPrincipal | null> {
    if (key.length === 0 || key.length > 512) return null;
    const fp = fingerprint(key);
    const cached = this.verified.get(fp.toString('base64'));
    if (cached && sameFingerprint(cached.fp, fp)) return cached.principal;
    const match = /^pk_([0-9a-f]{12})\.(.+)$/.exec(key);
    const id = match ? match[1]! : 'bootstrap';
    const secret = match ? match[2]! : key;
    // a key created through another node a moment ago may not have been announced here yet
    if (!this.keys.has(id) && this.store.backend === 'postgres') await this.readBack.refresh({ table: 'api_keys', id });
    const row = this.keys.get(id);
    if (!row || !(await verifySecret(secret, row.keyHash))) return null;
    if (this.keys.get(id) !== row) return null; // revoked or replaced while scrypt ran
    const principal: ApiPrincipal = { type: 'key', id: row.id, name: row.name, role: row.role, scope: row.scope };
    this.remember(key, principal);
    return principal;
  }

  /** A key as the store has it now (undefined: deleted), with the events of a local change. */
  apply(id: string, row: StoredKey | undefined): void {
    const current = this.keys.get(id);
    if (!row) {
      if (current) this.uncache(id);
      return;
    }
    if (current && current.keyHash === row.keyHash && current.role === row.role && current.name === row.name && sameScope(current.scope, row.scope)) return;
    this.keys.set(id, row);
    if (!current) return;
    this.forgetVerified(id);
    // what was granted under the old role or scope ends: sessions, live streams, city-system MQTT sessions
    if (current.role !== row.role || !sameScope(current.scope, row.scope) || current.keyHash !== row.keyHash) this.events.emit('key-changed', id, current.scope);
  }

  private remember(key: string, principal: ApiPrincipal): void {
    const fp = fingerprint(key);
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(fp.toString('base64'), { fp, principal });
  }

  private uncache(id: string): void {
    const had = this.keys.get(id);
    this.keys.delete(id);
    this.forgetVerified(id);
    this.events.emit('key-revoked', id, had?.scope);
  }

  private forgetVerified(id: string): void {
    for (const [fp, entry] of this.verified) if (entry.principal.id === id) this.verified.delete(fp);
  }
}
