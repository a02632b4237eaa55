// The packages beside the adapters: the scheduler, the SQL compiler adapters
// build on, and the conformance suite a third-party adapter runs.
import { SqliteBackend } from '@berth/adapter-sqlite';
import { queueConformance, repositoryConformance } from '@berth/conformance-tests';
import { type Capabilities, createBackend, type QueueBackend, type RepositoryBackend } from '@berth/core';
import { prepareQuery } from '@berth/core/adapter';
import { nextRuns, type Scheduler, setSchedule, startScheduler } from '@berth/scheduler';
import { type SqlDialect, sqlCompiler } from '@berth/sql';

export async function useScheduler(): Promise<Scheduler> {
  const backend = new SqliteBackend({ filename: './app.db' });
  const reports = backend.queue<{ kind: string }>('reports');
  const schedule = await setSchedule(reports, {
    name: 'weekday_report',
    cron: '0 7 * * 1-5',
    timezone: 'Europe/Paris',
    payload: { kind: 'daily' },
    jobOptions: { maxAttempts: 5 },
  });
  const upcoming: Date[] = nextRuns(schedule.spec, new Date(), 3);
  upcoming[0]?.toISOString();
  return startScheduler(reports, { pollIntervalMs: 1_000 });
}

export function useSql(dialect: SqlDialect): void {
  const { filter, sort } = prepareQuery({ where: { level: { $gte: 2 } }, orderBy: 'name' });
  const compiler = sqlCompiler(dialect);
  compiler.compileFilter(filter);
  compiler.compileOrderBy(sort, filter);
}

export function useConformance(): void {
  const capabilities: Capabilities = {
    repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
    queue: { level: 'single-node', transactionalEnqueue: true, durable: false, notifications: true },
  };
  repositoryConformance({
    name: 'memory',
    createBackend: async (): Promise<RepositoryBackend & QueueBackend> => createBackend('memory:'),
    capabilities,
    timeoutMs: 10_000,
  });
  queueConformance({ name: 'memory', createBackend: () => createBackend('memory:'), capabilities });
}
