/**
 * A promise chain that runs one task at a time, in the order they came; a
 * task that fails does not stop the ones after it. Adapters use it to run
 * the operations a transaction's work started without awaiting them one
 * after another, on the transaction's one connection or session.
 *
 * ### Examples
 * ```ts
 * import { Turns } from '@berth/core/adapter';
 *
 * // Operations a transaction's work starts together still run one after another on its connection.
 * const turns = new Turns();
 * const log: string[] = [];
 * await Promise.all([
 *   turns.run(async () => log.push('first')),
 *   turns.run(async () => log.push('second')),
 * ]);
 * ```
 */
export class Turns {
  private last: Promise<unknown> = Promise.resolve();

  run<R>(work: () => Promise<R>): Promise<R> {
    const result = this.last.then(work);
    this.last = result.catch(() => undefined);
    return result;
  }
}
