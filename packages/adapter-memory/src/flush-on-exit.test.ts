import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DocumentBackend } from './document-backend.js';
import { SHUTDOWN_SIGNALS } from './flush-on-exit.js';
import { MemoryDocumentStore } from './memory-document-store.js';

const directory = mkdtempSync(join(tmpdir(), 'berth-flush-on-exit-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const COUNT = 50;
const writer = fileURLToPath(new URL('./fixtures/shutdown-writer.ts', import.meta.url));
let files = 0;

interface Child {
  readonly process: ChildProcess;
  readonly file: string;
  /** Resolves when the child printed `line`. */
  printed(line: string): Promise<void>;
  readonly exited: Promise<void>;
}

function startWriter(mode: string): Child {
  files += 1;
  const file = join(directory, `${files}.json`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@berth/source', writer, file, String(COUNT), mode],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const seen = new Set<string>();
  const waiting = new Map<string, () => void>();
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      seen.add(line);
      waiting.get(line)?.();
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    file,
    printed: (line) =>
      seen.has(line)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiting.set(line, resolve)),
            exited.then(() => expect.unreachable(`the child exited before printing ${line}`)),
          ]),
    exited,
  };
}

function storedIds(file: string): string[] {
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { items?: Record<string, unknown> };
  return Object.keys(stored.items ?? {}).sort();
}

const early = Array.from({ length: COUNT }, (_, n) => `early-${n}`).sort();

describe('flushOnExit', () => {
  it('adds no process listener unless asked; asked, one per signal for all backends, removed by the last close()', async () => {
    const before = SHUTDOWN_SIGNALS.map((signal) => process.listenerCount(signal));
    const counts = () => SHUTDOWN_SIGNALS.map((signal) => process.listenerCount(signal));
    const plain = new DocumentBackend({ store: new MemoryDocumentStore() });
    expect(counts()).toEqual(before);
    const first = new DocumentBackend({ store: new MemoryDocumentStore(), flushOnExit: true });
    const second = new DocumentBackend({ store: new MemoryDocumentStore(), flushOnExit: true });
    expect(counts()).toEqual(before.map((count) => count + 1));
    await first.close();
    expect(counts()).toEqual(before.map((count) => count + 1));
    await second.close();
    await plain.close();
    expect(counts()).toEqual(before);
  });

  for (const signal of SHUTDOWN_SIGNALS) {
    it(`a file: backend saves its pending writes on ${signal}, then the process ends by ${signal}`, async () => {
      const child = startWriter('plain');
      await child.printed('INSERTED');
      expect(existsSync(child.file), 'nothing is saved before the signal').toBe(false);
      child.process.kill(signal);
      await child.exited;
      expect(child.process.signalCode).toBe(signal);
      expect(storedIds(child.file)).toEqual(early);
    }, 60_000);
  }

  it('with ?flushOnExit=false the pending writes are lost on SIGTERM (what the handler prevents)', async () => {
    const child = startWriter('opt-out');
    await child.printed('INSERTED');
    child.process.kill('SIGTERM');
    await child.exited;
    expect(child.process.signalCode).toBe('SIGTERM');
    expect(existsSync(child.file)).toBe(false);
  }, 60_000);

  it('flushOnSignals(backend) does for a backend made without flushOnExit what the option does', async () => {
    const child = startWriter('helper');
    await child.printed('INSERTED');
    child.process.kill('SIGTERM');
    await child.exited;
    expect(child.process.signalCode).toBe('SIGTERM');
    expect(storedIds(child.file)).toEqual(early);
  }, 60_000);

  it('when the application listens for the signal too, the writes are saved and stopping is left to it', async () => {
    const child = startWriter('app-listener');
    await child.printed('INSERTED');
    child.process.kill('SIGTERM');
    await child.printed('APP SIGTERM');
    const deadline = Date.now() + 10_000;
    while (!existsSync(child.file) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(storedIds(child.file)).toEqual(early);
    expect(child.process.exitCode, 'still running').toBeNull();
    expect(child.process.signalCode).toBeNull();
    child.process.stdin?.write('exit\n');
    await child.exited;
    expect(child.process.exitCode).toBe(0);
  }, 60_000);

  it('a second signal while the save hangs stops the process at once', async () => {
    const child = startWriter('hanging-store');
    await child.printed('INSERTED');
    child.process.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.process.exitCode ?? child.process.signalCode, 'still saving').toBeNull();
    child.process.kill('SIGTERM');
    await child.exited;
    expect(child.process.signalCode).toBe('SIGTERM');
  }, 60_000);

  it('SIGKILL cannot be caught: exactly the writes after the last flush are lost', async () => {
    const child = startWriter('kill-after-flush');
    await child.printed('PENDING');
    child.process.kill('SIGKILL');
    await child.exited;
    expect(child.process.signalCode).toBe('SIGKILL');
    expect(storedIds(child.file)).toEqual(early);
  }, 60_000);
});
