import { type Capabilities, ConflictError, type Document, isBerthError } from '@berth/core';
import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, invalid } from './assertions.js';

interface Account extends Document {
  balance: number;
}

interface Attempt extends Document {
  run: number;
}

const transactional = (capabilities: Capabilities): boolean => capabilities.repository.transactions !== 'none';

/** Fast delays, so cases that retry many times stay short. */
const QUICK = { minDelayMs: 1, maxDelayMs: 20 } as const;

/**
 * `transaction` with `retries`: a retryable `CONFLICT` runs the work again and only the last run commits;
 * other errors, exhausted retries and aborts stop at once.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, registerGroup, transactionRetryGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(transactionRetryGroup, options);
 * ```
 */
export const transactionRetryGroup: ConformanceGroup = defineGroup('transaction-retries', [
  {
    name: 'twenty concurrent read-modify-write transfers between three accounts with { retries: 10 } all commit and preserve the total',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('accounts');
      const accounts = context.backend.repository<Account>(name);
      await accounts.insertMany([
        { id: 'a', balance: 1_000 },
        { id: 'b', balance: 1_000 },
        { id: 'c', balance: 1_000 },
      ]);
      const ids = ['a', 'b', 'c'] as const;
      let runs = 0;
      const transfer = (index: number) =>
        context.backend.transaction(
          async (tx) => {
            runs += 1;
            const repository = tx.repository<Account>(name);
            const from = ids[index % 3] as string;
            const to = ids[(index + 1) % 3] as string;
            const source = await repository.get(from);
            const target = await repository.get(to);
            if (source === null || target === null) throw new Error('seeded accounts are missing');
            await repository.update(from, { balance: source.balance - (index + 1) });
            await repository.update(to, { balance: target.balance + (index + 1) });
          },
          { retries: 10 },
        );
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, index) => transfer(index)));
      expect(results.filter((result) => result.status === 'rejected')).toStrictEqual([]);
      expect(runs).toBeGreaterThanOrEqual(20);
      const after = await accounts.find({ orderBy: 'id' });
      expect(after.reduce((sum, account) => sum + account.balance, 0)).toBe(3_000);
      // Each account sent the amounts of its indexes and received those of the previous account's.
      const sent = (offset: number) =>
        Array.from({ length: 20 }, (_, index) => index)
          .filter((index) => index % 3 === offset)
          .reduce((sum, index) => sum + index + 1, 0);
      expect(after.map((account) => account.balance)).toStrictEqual([
        1_000 - sent(0) + sent(2),
        1_000 - sent(1) + sent(0),
        1_000 - sent(2) + sent(1),
      ]);
    },
  },
  {
    name: 'a retryable CONFLICT from the work runs it again; only the last run’s writes are committed',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('attempts');
      const attempts = context.backend.repository<Attempt>(name);
      let runs = 0;
      const result = await context.backend.transaction(
        async (tx) => {
          runs += 1;
          await tx.repository<Attempt>(name).insert({ id: `run${runs}`, run: runs });
          if (runs < 3) throw new ConflictError('simulated conflict');
          return `committed on run ${runs}`;
        },
        { retries: { retries: 5, ...QUICK } },
      );
      expect(result).toBe('committed on run 3');
      expect(runs).toBe(3);
      expect(await attempts.find({ orderBy: 'id' })).toStrictEqual([{ id: 'run3', run: 3 }]);
    },
  },
  {
    name: 'errors that are not retryable CONFLICTs are thrown at once, after one run',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('attempts');
      const failures: (() => unknown)[] = [
        () => new ConflictError('final', { retryable: false }),
        () => new Error('plain'),
        () => 'a string',
      ];
      for (const failure of failures) {
        let runs = 0;
        const thrown = failure();
        await expect(
          context.backend.transaction(
            async () => {
              runs += 1;
              throw thrown;
            },
            { retries: { retries: 5, ...QUICK } },
          ),
        ).rejects.toBe(thrown);
        expect(runs).toBe(1);
      }
      let runs = 0;
      await context.backend.repository<Attempt>(name).insert({ id: 'taken', run: 0 });
      await expectBerthError(
        context.backend.transaction(
          async (tx) => {
            runs += 1;
            await tx.repository<Attempt>(name).insert({ id: 'taken', run: runs });
          },
          { retries: 5 },
        ),
        'ALREADY_EXISTS',
      );
      expect(runs).toBe(1);
    },
  },
  {
    name: 'when the retries run out, the last CONFLICT is thrown after 1 + retries runs; retries: 0 runs once',
    requires: transactional,
    async run(context) {
      for (const retries of [0, 1, 4]) {
        let runs = 0;
        let last: unknown;
        const outcome = context.backend.transaction(
          async () => {
            runs += 1;
            last = new ConflictError(`conflict ${runs}`);
            throw last;
          },
          { retries: { retries, ...QUICK } },
        );
        await outcome.then(
          () => expect.unreachable('the work always throws'),
          (error: unknown) => expect(error).toBe(last),
        );
        expect(runs).toBe(1 + retries);
      }
      let runs = 0;
      await expectBerthError(
        context.backend.transaction(async () => {
          runs += 1;
          throw new ConflictError('no retries asked');
        }),
        'CONFLICT',
      );
      expect(runs).toBe(1);
    },
  },
  {
    name: 'aborting the signal while waiting to retry stops at once with ABORTED (cause: the reason) and runs no more',
    requires: transactional,
    async run(context) {
      const controller = new AbortController();
      const reason = new Error('user went away');
      let runs = 0;
      const started = Date.now();
      const outcome = context.backend.transaction(
        async () => {
          runs += 1;
          setTimeout(() => controller.abort(reason), 20);
          throw new ConflictError('busy');
        },
        { signal: controller.signal, retries: { retries: 3, minDelayMs: 30_000, maxDelayMs: 60_000 } },
      );
      await expectBerthError(outcome, 'ABORTED', { cause: reason });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(runs).toBe(1);
    },
  },
  {
    name: 'an invalid retries option is VALIDATION and the work never runs',
    requires: transactional,
    async run(context) {
      const bad: unknown[] = [
        -1,
        1.5,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        101,
        2 ** 53 + 2,
        '3',
        null,
        [],
        true,
        {},
        { retries: -1 },
        { retries: 3, minDelayMs: -1 },
        { retries: 3, minDelayMs: Number.NaN },
        { retries: 3, maxDelayMs: 1e308 },
        { retries: 3, minDelayMs: 50, maxDelayMs: 10 },
      ];
      let ran = false;
      for (const retries of bad) {
        await expectBerthError(
          () =>
            context.backend.transaction(async () => {
              ran = true;
            }, invalid({ retries })),
          'VALIDATION',
        );
      }
      expect(ran).toBe(false);
    },
  },
  {
    name: 'a CONFLICT thrown by a nested operation is retried like one thrown by the work',
    requires: transactional,
    async run(context) {
      const name = context.collectionName('attempts');
      const repository = context.backend.repository<Attempt>(name);
      await repository.insert({ id: 'x', run: 0 });
      let runs = 0;
      await context.backend.transaction(
        async (tx) => {
          runs += 1;
          const attempts = tx.repository<Attempt>(name);
          try {
            // A stale expected version is a retryable CONFLICT: the next run reads the new version.
            await attempts.update('x', { run: runs }, { expectedVersion: runs === 1 ? 7 : 1 });
          } catch (error) {
            if (isBerthError(error, 'CONFLICT')) expect(error.retryable).toBe(true);
            throw error;
          }
        },
        { retries: { retries: 2, ...QUICK } },
      );
      expect(runs).toBe(2);
      expect(await repository.get('x')).toStrictEqual({ id: 'x', run: 2 });
    },
  },
]);
