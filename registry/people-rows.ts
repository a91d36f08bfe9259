// Rows of the people, password-link and console-session tables (issue 20) as both backends read them: SQLite gives
// numbers and JSON text, PostgreSQL (bigints parsed as numbers, registry/postgres.ts) booleans and jsonb.
import type { Role } from './device.js';
import { scopeFromStored } from './scope.js';
import type { StoredPasswordLink, StoredSession, StoredUser } from './store.js';

export interface UserRow {
  id: string;
  username: string;
  name: string;
  role: Role;
  scope: unknown;
  language: string;
  disabled: number | boolean;
  password_hash: string | null;
  created_at: number;
  failed_logins: number;
  locked_until: number | null;
}

export const fromUserRow = (r: UserRow): StoredUser => ({
  id: r.id, username: r.username, name: r.name, role: r.role, scope: scopeFromStored(r.scope), language: r.language === 'en' ? 'en' : 'id',
  disabled: Boolean(r.disabled), passwordHash: r.password_hash, createdAt: r.created_at, failedLogins: r.failed_logins, lockedUntil: r.locked_until,
});

export interface LinkRow {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  voided_at: number | null;
}

export const fromLinkRow = (r: LinkRow): StoredPasswordLink => ({
  tokenHash: r.token_hash, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at, usedAt: r.used_at, voidedAt: r.voided_at,
});

export interface SessionRow {
  id_hash: string;
  principal_type: 'key' | 'user';
  principal_id: string;
  name: string;
  username: string | null;
  role: Role;
  scope: unknown;
  csrf_token: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
}

export const fromSessionRow = (r: SessionRow): StoredSession => ({
  idHash: r.id_hash, principalType: r.principal_type, principalId: r.principal_id, name: r.name, username: r.username, role: r.role,
  scope: scopeFromStored(r.scope), csrfToken: r.csrf_token, createdAt: r.created_at, lastUsedAt: r.last_used_at, expiresAt: r.expires_at,
});
