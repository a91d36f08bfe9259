// PostgreSQL schema of the shared registry, as numbered migrations (applied in order, each once, recorded in
// `pantau_migrations`). Append new versions; never edit one that has shipped.
//
// Columns mirror the SQLite schema (registry/sqlite-store.ts, alerts/store.ts) so the two backends stay one
// model: times are epoch milliseconds (bigint), thresholds and alert changes JSON.
import { NOTIFY_TABLES_SQL } from './notify-schema.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const PG_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'registry, alerts and the alert feed',
    sql: `
      CREATE TABLE devices (
        id text PRIMARY KEY, kind text NOT NULL, name text NOT NULL, city text NOT NULL, district text NOT NULL,
        lat double precision NOT NULL, lon double precision NOT NULL, thresholds jsonb, token_hash text NOT NULL,
        status text NOT NULL DEFAULT 'never_seen', last_seen bigint, created_at bigint NOT NULL
      );
      CREATE TABLE api_keys (
        id text PRIMARY KEY, name text NOT NULL, role text NOT NULL, key_hash text NOT NULL, created_at bigint NOT NULL
      );
      CREATE TABLE audit (
        seq bigserial PRIMARY KEY, ts bigint NOT NULL, actor text NOT NULL, action text NOT NULL, target text NOT NULL
      );
      CREATE TABLE state (key text PRIMARY KEY, value jsonb NOT NULL);

      CREATE TABLE alerts (
        id text PRIMARY KEY, device_id text NOT NULL, kind text NOT NULL, rule text NOT NULL, severity text NOT NULL,
        state text NOT NULL, value double precision NOT NULL, message text NOT NULL, opened_at bigint NOT NULL,
        acknowledged_at bigint, resolved_at bigint
      );
      CREATE INDEX alerts_state ON alerts (state, opened_at);
      CREATE INDEX alerts_device ON alerts (device_id, opened_at);
      -- every alert change; published/webhooked mark its delivery by the alert owner (an outbox)
      CREATE TABLE alert_events (
        seq bigserial PRIMARY KEY, at bigint NOT NULL, change jsonb NOT NULL,
        published boolean NOT NULL DEFAULT false, webhooked boolean NOT NULL DEFAULT false
      );
      CREATE INDEX alert_events_undelivered ON alert_events (seq) WHERE NOT (published AND webhooked);
      -- acknowledged readings on their way to the alert owner (written by every ingest node, consumed by one)
      CREATE TABLE alert_feed (
        id bigserial PRIMARY KEY, device_id text NOT NULL, kind text NOT NULL, ts bigint NOT NULL, vals jsonb NOT NULL,
        added_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX alert_feed_added ON alert_feed (added_at);
      -- operator acknowledgements, carried out by the alert owner
      CREATE TABLE alert_commands (
        id bigserial PRIMARY KEY, alert_id text NOT NULL, actor text NOT NULL, created_at bigint NOT NULL,
        done boolean NOT NULL DEFAULT false, result jsonb
      );
    `,
  },
  {
    version: 2,
    name: 'device DevEUIs and configuration shadows',
    // were node-local SQLite tables (registry/device-extras.ts) until every node shared them; a device's rows go
    // with it (ON DELETE CASCADE)
    sql: `
      CREATE TABLE device_dev_eui (
        device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE, dev_eui text NOT NULL UNIQUE
      );
      CREATE TABLE device_config (
        device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE, version integer NOT NULL,
        desired jsonb NOT NULL, updated_at bigint NOT NULL, reported jsonb, reported_version integer, reported_at bigint
      );
    `,
  },
  {
    version: 3,
    name: 'scopes of API keys',
    // issue 20: a key sees the cities and kinds of its scope; NULL = unscoped (every key made before)
    sql: `ALTER TABLE api_keys ADD COLUMN scope jsonb;`,
  },
  {
    version: 4,
    name: 'people, password links and console sessions',
    // issue 20: people sign in with a password (scrypt hash); links and sessions are kept by the SHA-256 of their
    // token or id, never the secret; a person's links and sessions go with them (ON DELETE CASCADE does not apply
    // to key sessions, whose principal lives in api_keys: those are deleted by the registry)
    sql: `
      CREATE TABLE users (
        id text PRIMARY KEY, username text NOT NULL UNIQUE, name text NOT NULL, role text NOT NULL, scope jsonb,
        language text NOT NULL, disabled boolean NOT NULL DEFAULT false, password_hash text, created_at bigint NOT NULL,
        failed_logins integer NOT NULL DEFAULT 0, locked_until bigint
      );
      CREATE TABLE password_links (
        token_hash text PRIMARY KEY, user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at bigint NOT NULL, expires_at bigint NOT NULL, used_at bigint, voided_at bigint
      );
      CREATE INDEX password_links_user ON password_links (user_id);
      CREATE TABLE console_sessions (
        id_hash text PRIMARY KEY, principal_type text NOT NULL, principal_id text NOT NULL, name text NOT NULL,
        username text, role text NOT NULL, scope jsonb, csrf_token text NOT NULL, created_at bigint NOT NULL,
        last_used_at bigint NOT NULL, expires_at bigint NOT NULL
      );
      CREATE INDEX console_sessions_principal ON console_sessions (principal_type, principal_id);
      CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
    `,
  },
  {
    version: 5,
    name: 'public flag of devices',
    // issue 22: whether the public page and API show a device; NULL = its kind's default (catalog/public.ts)
    sql: `ALTER TABLE devices ADD COLUMN public boolean;`,
  },
  {
    version: 6,
    name: 'cluster nodes',
    // issue 24: every node of a cluster, its time slot (server-assigned timestamps unique across nodes), heartbeat
    // and status (GET /api/v1/cluster); times are PostgreSQL's clock, epoch ms
    sql: `
      CREATE TABLE cluster_nodes (
        node_id text PRIMARY KEY, role text NOT NULL, time_slot integer UNIQUE, started_at bigint NOT NULL,
        heartbeat_at bigint NOT NULL, stopped_at bigint, status jsonb NOT NULL DEFAULT '{}'::jsonb
      );
    `,
  },
  {
    version: 7,
    name: 'notification channels, rules and the delivery outbox',
    // issue "Round 3 · 2 of 6": channels and rules were one state document each; every send is an outbox row,
    // unique per alert, change and channel, claimed by one sender at a time (lease) — notify/store.ts
    sql: NOTIFY_TABLES_SQL,
  },
  {
    version: 8,
    name: 'cluster_nodes: broker sessions and their takeover',
    // issue 24: a worker whose lease ran out has its broker session taken over by a live worker (platform/takeover.ts):
    // `session` is its client id, `taken_by`/`taken_at` the claim (one taker, atomically), `taken_over_at` the end of
    // the drain (the session is ended at the broker; the worker that returns starts fresh and resets the row)
    sql: `
      ALTER TABLE cluster_nodes ADD COLUMN session text, ADD COLUMN taken_by text, ADD COLUMN taken_at bigint,
        ADD COLUMN taken_over_at bigint;
    `,
  },
];
