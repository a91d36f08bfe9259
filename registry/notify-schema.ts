// The notification tables (docs/notifications.md, "Storage"), one text for both backends: PostgreSQL migration 6
// (registry/schema.ts) and the embedded registry's SQLite file (notify/store.ts runs it with IF NOT EXISTS).
// Times are epoch milliseconds; configs, scopes and rules JSON text.
//
// notify_outbox: one row per message to send — alert, change and channel unique, so planning a change twice
// (a restart, a replay) cannot make a second row. `status`: queued → sending (claimed: claimed_by, lease_until) →
// sent | failed (retried at due_at) | expired (not sent by expires_at: 24 h after it was first due) | cancelled; held = waiting for the end of quiet hours.
// Rows of one digest share `group_key`. notify_attempts: every provider call of a row.
export const NOTIFY_TABLES_SQL = `
  CREATE TABLE IF NOT EXISTS notify_channels (
    id text PRIMARY KEY, name text NOT NULL, type text NOT NULL, config text NOT NULL, scope text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE IF NOT EXISTS notify_rules (
    id text PRIMARY KEY, name text NOT NULL, owner text NOT NULL, rule text NOT NULL, created_at bigint NOT NULL
  );
  CREATE TABLE IF NOT EXISTS notify_outbox (
    id text PRIMARY KEY, alert_id text NOT NULL, change_key text NOT NULL, channel_id text NOT NULL, rule_id text,
    reason text NOT NULL, change_at bigint NOT NULL, language text NOT NULL, body text NOT NULL, ack integer NOT NULL,
    status text NOT NULL, due_at bigint NOT NULL, created_at bigint NOT NULL, expires_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    lease_until bigint, claimed_by text, sent_at bigint, in_digest integer NOT NULL DEFAULT 0, group_key text,
    UNIQUE (alert_id, change_key, channel_id)
  );
  CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox (status, due_at);
  CREATE INDEX IF NOT EXISTS notify_outbox_alert ON notify_outbox (alert_id);
  CREATE INDEX IF NOT EXISTS notify_outbox_channel ON notify_outbox (channel_id, sent_at);
  CREATE TABLE IF NOT EXISTS notify_attempts (
    outbox_id text NOT NULL REFERENCES notify_outbox (id) ON DELETE CASCADE, at bigint NOT NULL, ok integer NOT NULL,
    status integer, error text
  );
  CREATE INDEX IF NOT EXISTS notify_attempts_row ON notify_attempts (outbox_id, at);
  CREATE TABLE IF NOT EXISTS notify_meta (key text PRIMARY KEY, value text NOT NULL);
`;
