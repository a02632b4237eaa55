import cliProgress from 'cli-progress';
import { type CliIo, type Colors, writeLine } from '../output.js';
import type { CopyProgressEvent } from './copy-types.js';

/** How often plain (non-TTY) progress prints a line per collection being copied. */
const PLAIN_LINE_INTERVAL_MS = 5_000;

/** Shows a copy's progress on stderr: one bar per collection on a TTY, plain lines otherwise. */
export interface CopyProgressView {
  readonly onProgress: (event: CopyProgressEvent) => void;
  /** Prints a line without breaking the bars. */
  log(line: string): void;
  stop(): void;
}

/** The view that suits `io.stderr`. */
export function copyProgressView(io: CliIo, colors: Colors): CopyProgressView {
  return io.stderr.isTTY === true ? barsView(io, colors) : plainView(io);
}

function rateOf(copied: number, startedAt: number): string {
  const seconds = (Date.now() - startedAt) / 1_000;
  return seconds > 0 ? Math.round(copied / seconds).toLocaleString('en-US') : '0';
}

function barsView(io: CliIo, colors: Colors): CopyProgressView {
  const multibar = new cliProgress.MultiBar(
    {
      stream: io.stderr,
      format: `${colors.bold('{collection}')} {bar} {value}/{total} docs | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, { bar: cliProgress.SingleBar; startedAt: number; startValue: number }>();
  return {
    onProgress(event) {
      if (event.type === 'collection-start') {
        const bar = multibar.create(event.total, event.copied, { collection: event.collection, rate: '0' });
        bars.set(event.collection, { bar, startedAt: Date.now(), startValue: event.copied });
      } else if (event.type === 'batch' || event.type === 'collection-done') {
        const view = bars.get(event.collection);
        const rate = view === undefined ? '0' : rateOf(event.copied - view.startValue, view.startedAt);
        view?.bar.setTotal(Math.max(event.total, event.copied));
        view?.bar.update(event.copied, { rate });
      } else if (event.type === 'queue-done') {
        multibar.log(`queue ${event.queue}: ${event.imported} jobs imported, ${event.skipped} already there\n`);
      }
    },
    log(line) {
      multibar.log(`${line}\n`);
    },
    stop() {
      multibar.stop();
    },
  };
}

function plainView(io: CliIo): CopyProgressView {
  const started = new Map<string, { startedAt: number; startValue: number; lastLineAt: number }>();
  return {
    onProgress(event) {
      if (event.type === 'collection-start') {
        started.set(event.collection, { startedAt: Date.now(), startValue: event.copied, lastLineAt: Date.now() });
        const resumed = event.copied > 0 ? `, resuming after ${event.copied}` : '';
        writeLine(io.stderr, `copying ${event.collection}: ${event.total} documents${resumed}`);
      } else if (event.type === 'batch') {
        const view = started.get(event.collection);
        if (view === undefined || Date.now() - view.lastLineAt < PLAIN_LINE_INTERVAL_MS) return;
        view.lastLineAt = Date.now();
        const rate = rateOf(event.copied - view.startValue, view.startedAt);
        writeLine(io.stderr, `copying ${event.collection}: ${event.copied}/${event.total} (${rate}/s)`);
      } else if (event.type === 'collection-done') {
        const view = started.get(event.collection);
        const rate = view === undefined ? '0' : rateOf(event.copied - view.startValue, view.startedAt);
        writeLine(io.stderr, `copied ${event.collection}: ${event.copied} documents (${rate}/s)`);
      } else if (event.type === 'queue-done') {
        writeLine(
          io.stderr,
          `copied queue ${event.queue}: ${event.imported} jobs imported, ${event.skipped} already there`,
        );
      }
    },
    log(line) {
      writeLine(io.stderr, line);
    },
    stop() {},
  };
}
