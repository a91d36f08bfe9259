// Structured logs (pino), one event per line. Secrets never reach a log: the fields that could carry one are
// redacted as a second line of defence.
import pino, { type Logger } from 'pino';

/** `destination`: where the lines go (standard output unless given; tests read them back). */
export function createLogger(level: string, name = 'pantau', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: {
      paths: ['password', 'token', 'key', '*.password', '*.token', '*.key', 'req.headers.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
