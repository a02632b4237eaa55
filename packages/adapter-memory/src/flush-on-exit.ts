/** The signals a process manager or a terminal sends to ask a process to stop. */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

type Flush = () => Promise<void>;

/** Every backend that asked to be saved on shutdown; one listener per signal serves them all. */
const flushes = new Set<Flush>();
const listeners = new Map<NodeJS.Signals, (signal: NodeJS.Signals) => void>();
const inProgress = new Set<NodeJS.Signals>();

/**
 * After the flush: when nobody else listens for the signal, Node would have
 * terminated the process on it, so it is raised again without our listener
 * and the process ends as it would have (killed by that signal, 128 + its
 * number for a shell). When the application listens too, stopping is its
 * decision.
 */
function finish(signal: NodeJS.Signals): void {
  inProgress.delete(signal);
  const listener = listeners.get(signal);
  const others = process.listeners(signal).filter((candidate) => candidate !== listener);
  const raise = others.length === 0;
  if (raise || flushes.size === 0) {
    if (listener !== undefined) process.removeListener(signal, listener);
    listeners.delete(signal);
  }
  if (raise) process.kill(process.pid, signal);
}

function onSignal(signal: NodeJS.Signals): void {
  // A second Ctrl-C while a save hangs (a store that does not answer) must still stop the process.
  if (inProgress.has(signal)) {
    finish(signal);
    return;
  }
  inProgress.add(signal);
  // A failed save was already reported through the backend's onSaveError.
  void Promise.all([...flushes].map((flush) => flush().catch(() => undefined))).then(() => finish(signal));
}

/**
 * Saves pending writes when the process gets SIGTERM, SIGINT or SIGHUP.
 * Opt-in, since it adds process-wide signal listeners; returns the function
 * that removes the registration (the listeners go with the last one).
 */
export function flushOnShutdownSignals(flush: Flush): () => void {
  flushes.add(flush);
  for (const signal of SHUTDOWN_SIGNALS) {
    if (listeners.has(signal)) continue;
    const listener = (received: NodeJS.Signals) => onSignal(received);
    listeners.set(signal, listener);
    process.on(signal, listener);
  }
  return () => {
    flushes.delete(flush);
    if (flushes.size > 0) return;
    for (const [signal, listener] of listeners) {
      // A flush in progress still ends with finish(), which re-raises if nobody listens.
      if (inProgress.has(signal)) continue;
      process.removeListener(signal, listener);
      listeners.delete(signal);
    }
  };
}

/**
 * Saves `backend`'s pending writes when the process gets SIGTERM, SIGINT or
 * SIGHUP, as the `flushOnExit: true` option does, for a backend made
 * without it (or by another package). Returns the function that stops it;
 * `close()` does not. Like the option, it adds process-wide signal
 * listeners, so it is only ever done when asked.
 *
 * ### Examples
 * ```ts
 * import { DocumentBackend, FileDocumentStore, flushOnSignals } from '@berth/adapter-memory';
 *
 * const backend = new DocumentBackend({ store: new FileDocumentStore('./data/app.json') });
 * const stop = flushOnSignals(backend);
 * // … later, when the application takes over its own shutdown:
 * stop();
 * ```
 */
export function flushOnSignals(backend: { flush(): Promise<void> }): () => void {
  return flushOnShutdownSignals(() => backend.flush());
}
