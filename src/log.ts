import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * The one place that decides where logs go: JSON lines on stdout (journald and launchd read
 * them). Library layers receive a Logger and make child loggers; they never print.
 */
export function createLogger(level: LevelWithSilent | string = 'info', name = 'cmdop'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Defence in depth: these fields are never logged even if someone passes them by mistake.
    redact: { paths: ['token', 'apiKey', 'api_key', 'secret', 'pin', '*.token', '*.apiKey', '*.secret', '*.pin'], censor: '[redacted]' },
  });
}

/** A logger that drops everything, for tests and library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
