/** The logger fewstep's core and plugins write to (resolved through `Tokens.Logger`). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/**
 * Writes to stderr (stdout stays clean for `--json`), filtered by level. The level comes from
 * `FEWSTEP_LOG_LEVEL` unless given.
 */
export class ConsoleLogger implements Logger {
  readonly level: LogLevel;
  constructor(level?: LogLevel) {
    const env = process.env['FEWSTEP_LOG_LEVEL'] as LogLevel | undefined;
    this.level = level ?? (env && env in order ? env : 'info');
  }
  #write(level: Exclude<LogLevel, 'silent'>, message: string): void {
    if (order[level] >= order[this.level]) process.stderr.write(`[fewstep] ${level === 'info' ? '' : level + ': '}${message}\n`);
  }
  debug(message: string): void {
    this.#write('debug', message);
  }
  info(message: string): void {
    this.#write('info', message);
  }
  warn(message: string): void {
    this.#write('warn', message);
  }
  error(message: string): void {
    this.#write('error', message);
  }
}

/** Collects messages in memory; for tests and for embedding fewstep in another program. */
export class MemoryLogger implements Logger {
  readonly messages: Array<{ level: Exclude<LogLevel, 'silent'>; message: string }> = [];
  debug(message: string): void {
    this.messages.push({ level: 'debug', message });
  }
  info(message: string): void {
    this.messages.push({ level: 'info', message });
  }
  warn(message: string): void {
    this.messages.push({ level: 'warn', message });
  }
  error(message: string): void {
    this.messages.push({ level: 'error', message });
  }
}
