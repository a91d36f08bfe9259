// Structured logs (pino), one event per line. Secrets never reach a log: the fields that could carry one are
// redacted as a second line of defence.
import pino, { type Logger } from 'pino';

export function createLogger(level: string, name = 'pantau'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['password', 'token', 'key', '*.password', '*.token', '*.key', 'req.headers.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
