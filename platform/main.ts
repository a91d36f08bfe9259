// `npm start`: the whole platform in one process, configured by the environment (docs/contract.md §1).
// First: mqtt-packet's allocations trimmed before aedes or mqtt loads it (broker/parser-allocations.ts).
import '../broker/parser-allocations.js';
import { ConfigError, loadConfig } from './config.js';
import { startPlatform } from './platform.js';

let config;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`pantau: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

try {
  const platform = await startPlatform(config, {
    // Fail-stop: the ingest log hit an I/O error it cannot recover from. Exit for the supervisor (systemd,
    // Docker, Kubernetes) to restart Pantau; recovery at start-up cuts what was never acknowledged.
    onFatal: () => {
      const t = setTimeout(() => process.exit(75), 250);
      t.unref();
    },
  });
  let signals = 0;
  const shutdown = (signal: string) => {
    signals++;
    if (signals > 1) {
      platform.log.warn({ signal }, 'second signal: exiting now; the spool is replayed at the next start');
      process.exit(1);
    }
    platform.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 2000);
    force.unref();
    platform.stop().then(
      () => process.exit(0),
      (err) => {
        platform.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  const detail = e.code === 'EADDRINUSE' ? `a port is already in use (${e.message})` : e.message;
  process.stderr.write(`pantau: could not start: ${detail}\n`);
  process.exit(1);
}
