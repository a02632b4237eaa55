import type { BerthLogger, LogDetails } from '../operation/logger.js';

/** One call to a {@link RecordingLogger}. */
export interface LogLine {
  readonly level: 'warn' | 'error';
  readonly message: string;
  readonly details: LogDetails | undefined;
}

/** A logger that keeps what it is told, for tests. */
export class RecordingLogger implements BerthLogger {
  readonly lines: LogLine[] = [];

  warn(message: string, details?: LogDetails): void {
    this.lines.push({ level: 'warn', message, details });
  }

  error(message: string, details?: LogDetails): void {
    this.lines.push({ level: 'error', message, details });
  }
}
