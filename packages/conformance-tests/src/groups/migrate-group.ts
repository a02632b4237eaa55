import { expect } from 'vitest';
import { type ConformanceGroup, defineGroup } from '../harness.js';
import { expectBerthError, invalid, type LooseDocument } from './assertions.js';

/**
 * `backend.migrate()` on a connected backend: `connect()` migrated already,
 * so it resolves `{ applied: [] }`, and again on a second call. What an
 * engine's schema needs (pending migrations, `migrate: false`, `SCHEMA`) is
 * tested by each adapter against its own schema.
 *
 * ### Examples
 * ```ts
 * import { type ConformanceOptions, migrateGroup, registerGroup } from '@berth/conformance-tests';
 *
 * declare const options: ConformanceOptions; // what your adapter passes to repositoryConformance
 * registerGroup(migrateGroup, options);
 * ```
 */
export const migrateGroup: ConformanceGroup = defineGroup('migrate', [
  {
    name: 'resolves { applied: [] } on a connected backend, and again when called twice; data is untouched',
    async run(context) {
      const repository = context.repository<LooseDocument>();
      await repository.insert({ id: 'a', n: 1 });
      expect(await context.backend.migrate()).toStrictEqual({ applied: [] });
      expect(await context.backend.migrate()).toStrictEqual({ applied: [] });
      expect(await repository.get('a')).toStrictEqual({ id: 'a', n: 1 });
      expect((await repository.getEntry('a'))?.meta.version).toBe(1);
    },
  },
  {
    name: 'checks its options: a bad signal is VALIDATION, an aborted one ABORTED',
    async run(context) {
      await expectBerthError(context.backend.migrate(invalid({ signal: {} })), 'VALIDATION');
      await expectBerthError(context.backend.migrate({ signal: AbortSignal.abort() }), 'ABORTED');
    },
  },
]);
