// The bootstrap admin key (docs/contract.md §1): PANTAU_ADMIN_KEY when set; otherwise generated on first start, printed
// once, and written to admin.key (mode 0600) in the data dir for the operator.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import { newSecret } from '../registry/secrets.js';

export async function ensureAdminKey(registry: Registry, dataDir: string, configured: string | undefined, log: Logger): Promise<string | undefined> {
  if (configured) {
    await registry.setBootstrapKey(configured);
    return configured;
  }
  const file = join(dataDir, 'admin.key');
  if (registry.hasBootstrapKey()) {
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  }
  const key = `pk_admin_${newSecret()}`;
  await registry.setBootstrapKey(key);
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  // printed once, on purpose, outside the structured log
  process.stdout.write(`\nPantau generated an admin API key (shown once; also in ${file}, mode 0600):\n\n  ${key}\n\n`);
  log.info({ file }, 'generated the bootstrap admin key');
  return key;
}
