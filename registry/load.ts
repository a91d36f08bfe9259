// What a registry starts from: every row its memory holds, read from the store at start — SQLite synchronously (the
// embedded registry is ready when its constructor returns), PostgreSQL migrated first and read in parallel — and, on
// the first start of a cluster node after an upgrade, the DevEUIs and configurations it used to keep on its own.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PgStore } from './pg-store.js';
import { PgConnection } from './postgres.js';
import { SqliteStore } from './sqlite-store.js';
import type { ConfigState, DevEuiPair, RegistryStore, StoredDevice, StoredKey, StoredUser } from './store.js';

export interface Loaded {
  store: RegistryStore;
  devices: StoredDevice[];
  keys: StoredKey[];
  /** PostgreSQL only: the state rows (SQLite reads them on demand). */
  state: Map<string, unknown>;
  devEuis: DevEuiPair[];
  configs: Array<{ deviceId: string; state: ConfigState }>;
  users: StoredUser[];
}

/** The embedded registry's rows: SQLite in `dataDir`. */
export function loadEmbedded(dataDir: string): Loaded {
  const store = new SqliteStore(dataDir);
  return {
    store,
    devices: store.loadDevicesSync(),
    keys: store.loadKeysSync(),
    state: new Map(),
    devEuis: store.loadDevEuisSync(),
    configs: store.loadConfigsSync(),
    users: store.loadUsersSync(),
  };
}

/** The shared registry's rows, PostgreSQL at `url` migrated first; the connection is closed again on failure. */
export async function loadShared(url: string, dataDir: string, log: Logger): Promise<Loaded & { store: PgStore }> {
  const pg = new PgConnection(url, log.child({ component: 'postgres' }));
  try {
    await pg.migrate();
    const store = new PgStore(pg);
    await adoptNodeLocalExtras(store, dataDir, log);
    const [devices, keys, stateRows, devEuis, configs, users] = await Promise.all([
      store.loadDevices(),
      store.loadKeys(),
      pg.query<{ key: string; value: unknown }>('SELECT key, value FROM state'),
      store.loadDevEuis(),
      store.loadConfigs(),
      store.loadUsers(),
    ]);
    const state = new Map(stateRows.rows.map((r) => [r.key, r.value]));
    return { store, devices, keys, state, devEuis, configs, users };
  } catch (err) {
    await pg.close();
    throw err;
  }
}

/**
 * Upgrade of a cluster from a build that kept DevEUIs and configurations per node (in PANTAU_DATA_DIR's SQLite
 * file): moved into the shared registry once — taken where PostgreSQL has none yet, then removed from the file.
 */
async function adoptNodeLocalExtras(store: PgStore, dataDir: string, log: Logger): Promise<void> {
  if (!existsSync(join(dataDir, 'registry.sqlite'))) return;
  const local = new SqliteStore(dataDir);
  try {
    const devEuis = local.loadDevEuisSync();
    const configs = local.loadConfigsSync();
    if (devEuis.length + configs.length === 0) return;
    const taken = await store.adoptNodeLocal(devEuis, configs);
    local.db.exec('DELETE FROM device_dev_eui; DELETE FROM device_config;');
    log.info({ devEuis: devEuis.length, configs: configs.length, taken }, 'moved this node\'s DevEUIs and device configurations into the shared registry');
  } finally {
    await local.close();
  }
}
