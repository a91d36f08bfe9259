// People (issue 20): persons who sign in to the console with a username and password, each with a role and a
// scope like an API key's. An admin creates a person; the person sets their own password through a one-time link
// (its token shown once, stored as its SHA-256, expiring, single use; a new link voids the old ones). Passwords are
// kept only as scrypt hashes at full cost (registry/secrets.ts): unlike generated keys, a person's password may be
// weak, so a stolen hash must stay expensive to try.
//
// Like keys, people live in the registry's store (SQLite or PostgreSQL shared by every node) and are held in
// memory for listing and for checking a session's principal on each request; a change made through another node
// arrives as a notification and is applied here (`apply`), with the same events. Sign-in always reads the person
// from the store: the failure count and lock are shared by every node, so an attacker gains nothing by spreading
// guesses over the nodes of a cluster.
import { createHash, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { z } from 'zod';
import { label, RoleSchema, type ApiPrincipal, type Role } from './device.js';
import { ScopeSchema, describeScope, sameScope, type Scope } from './scope.js';
import { CHOSEN_COST, hashSecret, newSecret, verifySecret } from './secrets.js';
import { ConflictError, NotFoundError, type RegistryStore, type StoredUser } from './store.js';

export const USERNAME_PATTERN = /^[a-z0-9._-]{2,64}$/;
export const UsernameSchema = z.string().regex(USERNAME_PATTERN, 'username must be 2–64 lowercase letters, digits, ".", "_" or "-"');
export const LanguageSchema = z.enum(['id', 'en']);
export type Language = z.infer<typeof LanguageSchema>;
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

export const NewPersonSchema = z.strictObject({
  username: UsernameSchema,
  name: label(100),
  role: RoleSchema,
  scope: ScopeSchema.optional(),
  language: LanguageSchema.default('id'),
});
export const PersonPatchSchema = z.strictObject({
  name: label(100).optional(),
  role: RoleSchema.optional(),
  scope: ScopeSchema.optional(),
  language: LanguageSchema.optional(),
  disabled: z.boolean().optional(),
});

/** A person as the API shows them: never the password hash. */
export interface Person {
  id: string;
  username: string;
  name: string;
  role: Role;
  scope: Scope;
  language: Language;
  disabled: boolean;
  hasPassword: boolean;
  createdAt: number;
}

/** A person's consecutive failed sign-ins before the account locks, and for how long. */
export interface LockPolicy {
  maxFailures: number;
  lockMs: number;
}
export const DEFAULT_LOCK: LockPolicy = { maxFailures: 10, lockMs: 15 * 60_000 };

/** A password link that cannot be used: unknown (400) or used, replaced, expired (410); `reason` names which. */
export class PasswordLinkError extends Error {
  constructor(readonly reason: 'invalid' | 'used' | 'replaced' | 'expired', message: string) {
    super(message);
  }

  get status(): 400 | 410 {
    return this.reason === 'invalid' ? 400 : 410;
  }
}
/** A password the rules refuse (400). */
export class PasswordRuleError extends Error {}

export type SignInResult =
  | { outcome: 'ok'; principal: ApiPrincipal; person: Person }
  | { outcome: 'wrong' }
  | { outcome: 'locked'; until: number }
  | { outcome: 'disabled' };

/** The SHA-256 of a link token or session id: what the store keeps instead of the secret. */
export const secretHash = (secret: string) => createHash('sha256').update(secret).digest('base64url');

const toPerson = (u: StoredUser): Person => ({
  id: u.id, username: u.username, name: u.name, role: u.role, scope: u.scope, language: u.language, disabled: u.disabled,
  hasPassword: u.passwordHash !== null, createdAt: u.createdAt,
});

export const personActor = (p: Pick<Person, 'username' | 'name'>) => `user:${p.username} (${p.name})`;

// checked against when the username is unknown or has no password yet, so the answer takes as long as a real check
let dummyHash: Promise<string> | undefined;

/** Events on the registry: `user-changed` (id: role, scope or disabled changed), `user-removed` (id). */
export class People {
  private readonly users = new Map<string, StoredUser>();
  /** Failed sign-ins of usernames that do not exist, so they lock like real ones and reveal nothing. */
  private readonly unknownFailures = new Map<string, { count: number; lockedUntil: number | null }>();

  constructor(
    private readonly store: RegistryStore,
    private readonly events: EventEmitter,
    loaded: StoredUser[],
    readonly lock: LockPolicy = DEFAULT_LOCK,
  ) {
    for (const u of loaded) this.users.set(u.id, u);
  }

  list(): Person[] {
    return [...this.users.values()].map(toPerson).sort((a, b) => a.username.localeCompare(b.username));
  }

  get(id: string): Person | undefined {
    const u = this.users.get(id);
    return u ? toPerson(u) : undefined;
  }

  async create(input: { username: string; name: string; role: Role; scope: Scope; language: Language }, actor: string, linkTtlMs: number): Promise<{ person: Person; link: { token: string; expiresAt: number } }> {
    for (const u of this.users.values()) if (u.username === input.username) throw new ConflictError(`username ${input.username} is taken`);
    const now = Date.now();
    const row: StoredUser = {
      id: randomBytes(6).toString('hex'), ...input, disabled: false, passwordHash: null, createdAt: now, failedLogins: 0, lockedUntil: null,
    };
    const token = newSecret();
    const expiresAt = now + linkTtlMs;
    try {
      await this.store.insertUser(row, { tokenHash: secretHash(token), userId: row.id, createdAt: now, expiresAt, usedAt: null, voidedAt: null }, {
        actor, action: 'user.created', target: `${row.id} ${row.username} (${row.role}, scope ${describeScope(row.scope)}); password link until ${new Date(expiresAt).toISOString()}`,
      });
    } catch (err) {
      // taken through another node a moment ago: the store's unique index decides
      if (err instanceof ConflictError) throw new ConflictError(`username ${input.username} is taken`);
      throw err;
    }
    this.users.set(row.id, row);
    return { person: toPerson(row), link: { token, expiresAt } };
  }

  /**
   * A person signed in through single sign-on (api/oidc.ts), as a person of the registry: created at their first
   * sign-in (no password: they never sign in any other way), their name, role and scope brought up to date from
   * the provider's claims at every sign-in (audited as `user.updated`; a change ends their older sessions), so an
   * admin lists, re-scopes and disables them like anyone else. A disabled person stays refused whatever the
   * provider says. The username is the provider's, made to fit Pantau's pattern; `-sso` is appended when a
   * person of another origin already has it (never merged with a local account: a provider could claim any name).
   */
  async external(id: string, claimed: { username: string; name: string }, grant: { role: Role; scope: Scope }, actor: string): Promise<{ person: Person } | { disabled: Person }> {
    const current = this.users.get(id) ?? (await this.store.fetchUser(id));
    if (current) {
      this.users.set(id, current);
      if (current.disabled) return { disabled: toPerson(current) };
      if (current.name === claimed.name && current.role === grant.role && sameScope(current.scope, grant.scope)) return { person: toPerson(current) };
      return { person: await this.update(id, { name: claimed.name, role: grant.role, scope: grant.scope }, actor) };
    }
    let username = claimed.username.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60).padEnd(2, '-');
    const taken = async (u: string) => [...this.users.values()].some((x) => x.username === u) || (await this.store.fetchUserByUsername(u)) !== undefined;
    if (await taken(username)) username = `${username.slice(0, 60)}-sso`;
    if (await taken(username)) throw new ConflictError(`username ${username} is taken`);
    const row: StoredUser = {
      id, username, name: claimed.name, role: grant.role, scope: grant.scope, language: 'id', disabled: false, passwordHash: null,
      createdAt: Date.now(), failedLogins: 0, lockedUntil: null,
    };
    await this.store.insertUser(row, null, {
      actor, action: 'user.created', target: `${row.id} ${row.username} (${row.role}, scope ${describeScope(row.scope)}); by single sign-on`,
    });
    this.users.set(row.id, row);
    return { person: toPerson(row) };
  }

  /**
   * Display name, role, scope, language, disabled. A change of role or scope, or disabling, ends the person's
   * sessions at once on every node (in the store's transaction, and the `user-changed` event for live streams).
   */
  async update(id: string, patch: { name?: string; role?: Role; scope?: Scope; language?: Language; disabled?: boolean }, actor: string): Promise<Person> {
    const current = this.require(id);
    const next: StoredUser = {
      ...current,
      name: patch.name ?? current.name,
      role: patch.role ?? current.role,
      scope: patch.scope ?? current.scope,
      language: patch.language ?? current.language,
      disabled: patch.disabled ?? current.disabled,
    };
    const what = [
      ...(next.name !== current.name ? [`name ${JSON.stringify(next.name)}`] : []),
      ...(next.role !== current.role ? [`role ${current.role} → ${next.role}`] : []),
      ...(!sameScope(next.scope, current.scope) ? [`scope ${describeScope(current.scope)} → ${describeScope(next.scope)}`] : []),
      ...(next.language !== current.language ? [`language ${current.language} → ${next.language}`] : []),
      ...(next.disabled !== current.disabled ? [next.disabled ? 'disabled' : 'enabled'] : []),
    ];
    const ends = endsSessions(current, next);
    const stored = await this.store.updateUser(next, { actor, action: 'user.updated', target: `${id} ${current.username}: ${what.join(', ') || 'unchanged'}` }, ends);
    if (!stored) return this.gone(id);
    this.apply(id, next);
    return toPerson(next);
  }

  async remove(id: string, actor: string): Promise<void> {
    const current = this.require(id);
    const stored = await this.store.deleteUser(id, { actor, action: 'user.deleted', target: `${id} ${current.username}` });
    if (!stored) return void this.gone(id);
    this.apply(id, undefined);
  }

  /** A new one-time link; the person's earlier links stop working. */
  async newLink(id: string, actor: string, ttlMs: number): Promise<{ token: string; expiresAt: number }> {
    const current = this.require(id);
    const token = newSecret();
    const now = Date.now();
    const expiresAt = now + ttlMs;
    const stored = await this.store.insertPasswordLink({ tokenHash: secretHash(token), userId: id, createdAt: now, expiresAt, usedAt: null, voidedAt: null }, {
      actor, action: 'user.password_link', target: `${id} ${current.username}: new link until ${new Date(expiresAt).toISOString()}; earlier links void`,
    });
    if (!stored) return this.gone(id);
    return { token, expiresAt };
  }

  /** Sets the password of the link's person and consumes the link. */
  async setPassword(token: string, password: string): Promise<Person> {
    const link = /^[A-Za-z0-9_-]{20,100}$/.test(token) ? await this.store.fetchPasswordLink(secretHash(token)) : undefined;
    if (!link) throw new PasswordLinkError('invalid', 'this password link is not valid (mistyped or cut short); ask an admin for a new one');
    const now = Date.now();
    if (link.usedAt !== null) throw new PasswordLinkError('used', 'this password link was already used; ask an admin for a new one');
    if (link.voidedAt !== null) throw new PasswordLinkError('replaced', 'this password link was replaced by a newer one; use the newest link');
    if (link.expiresAt <= now) throw new PasswordLinkError('expired', `this password link expired at ${new Date(link.expiresAt).toISOString()}; ask an admin for a new one`);
    const user = await this.store.fetchUser(link.userId);
    if (!user) throw new PasswordLinkError('invalid', 'the person of this link no longer exists; ask an admin');
    checkPasswordRules(password, user.username);
    const hash = await hashSecret(password, CHOSEN_COST);
    const used = await this.store.usePasswordLink(link.tokenHash, hash, Date.now(), { actor: personActor(user), action: 'user.password_set', target: `${user.id} ${user.username}` });
    if (!used) throw new PasswordLinkError('used', 'this password link was used, replaced or expired a moment ago; ask an admin for a new one');
    const cached = this.users.get(user.id);
    if (cached) this.users.set(user.id, { ...cached, passwordHash: hash, failedLogins: 0, lockedUntil: null });
    return toPerson({ ...user, passwordHash: hash });
  }

  /**
   * Checks a username and password. A wrong username and a wrong password are one answer, after the same work; a
   * locked account is refused without checking the password, so the answer says nothing about it; a disabled
   * person is told so only with the right password.
   */
  async signIn(username: string, password: string): Promise<SignInResult> {
    const now = Date.now();
    const user = USERNAME_PATTERN.test(username) ? await this.store.fetchUserByUsername(username) : undefined;
    if (!user) return this.unknownFailure(username, password, now);
    if (user.lockedUntil !== null && user.lockedUntil > now) return { outcome: 'locked', until: user.lockedUntil };
    let right = false;
    if (user.passwordHash !== null && password.length <= PASSWORD_MAX_LENGTH) right = await verifySecret(password, user.passwordHash);
    else await verifySecret(password.slice(0, PASSWORD_MAX_LENGTH), await dummy());
    if (!right) {
      const counted = await this.store.recordLoginFailure(user.id, this.lock.maxFailures, this.lock.lockMs, Date.now());
      if (counted.lockedUntil === null || counted.lockedUntil <= now) return { outcome: 'wrong' };
      // the lock is news worth an admin's eye: someone may be guessing this person's password
      const until = new Date(counted.lockedUntil).toISOString();
      void this.store.audit({ actor: 'anonymous', action: 'user.locked', target: `${user.id} ${user.username}: ${this.lock.maxFailures} failed sign-ins, locked until ${until}` }).catch(() => undefined);
      return { outcome: 'locked', until: counted.lockedUntil };
    }
    if (user.disabled) return { outcome: 'disabled' };
    await this.store.recordLoginSuccess(user.id);
    const person = toPerson(user);
    return { outcome: 'ok', person, principal: principalOf(person) };
  }

  /** Applies a row as stored (a write here, or another node's, heard through the store); emits the events. */
  apply(id: string, row: StoredUser | undefined): void {
    const current = this.users.get(id);
    if (!row) {
      if (!current) return;
      this.users.delete(id);
      this.events.emit('user-removed', id);
      return;
    }
    this.users.set(id, row);
    if (current && endsSessions(current, row)) this.events.emit('user-changed', id);
  }

  /** Everything from the store again (notifications may have been missed). */
  resync(rows: StoredUser[]): void {
    const seen = new Set(rows.map((r) => r.id));
    for (const r of rows) this.apply(r.id, r);
    for (const id of [...this.users.keys()]) if (!seen.has(id)) this.apply(id, undefined);
  }

  private async unknownFailure(username: string, password: string, now: number): Promise<SignInResult> {
    const entry = this.unknownFailures.get(username);
    if (entry?.lockedUntil && entry.lockedUntil > now) return { outcome: 'locked', until: entry.lockedUntil };
    await verifySecret(password.slice(0, PASSWORD_MAX_LENGTH), await dummy());
    if (this.unknownFailures.size > 10_000) this.unknownFailures.clear();
    const count = (entry && !(entry.lockedUntil && entry.lockedUntil <= now) ? entry.count : 0) + 1;
    if (count >= this.lock.maxFailures) {
      const until = Date.now() + this.lock.lockMs;
      this.unknownFailures.set(username, { count: 0, lockedUntil: until });
      return { outcome: 'locked', until };
    }
    this.unknownFailures.set(username, { count, lockedUntil: null });
    return { outcome: 'wrong' };
  }

  private require(id: string): StoredUser {
    const u = this.users.get(id);
    if (!u) throw new NotFoundError(`person ${id} does not exist`);
    return u;
  }

  private gone(id: string): never {
    this.apply(id, undefined);
    throw new NotFoundError(`person ${id} does not exist`);
  }
}

/** The principal a signed-in person acts as. */
export function principalOf(p: Person): ApiPrincipal {
  return { type: 'user', id: p.id, name: p.name, username: p.username, role: p.role, scope: p.scope };
}

/** What a person may do changed: their sessions (and live streams) must end. */
function endsSessions(a: StoredUser, b: StoredUser): boolean {
  return a.role !== b.role || !sameScope(a.scope, b.scope) || a.disabled !== b.disabled;
}

export function checkPasswordRules(password: string, username: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) throw new PasswordRuleError(`the password must have at least ${PASSWORD_MIN_LENGTH} characters`);
  if (password.length > PASSWORD_MAX_LENGTH) throw new PasswordRuleError(`the password must have at most ${PASSWORD_MAX_LENGTH} characters`);
  if (password.toLowerCase().includes(username.toLowerCase())) throw new PasswordRuleError('the password must not contain the username');
}

function dummy(): Promise<string> {
  dummyHash ??= hashSecret(newSecret(), CHOSEN_COST);
  return dummyHash;
}
