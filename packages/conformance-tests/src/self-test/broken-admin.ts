import type {
  CollectionInfo,
  Document,
  DocumentValue,
  Entry,
  Job,
  JobQueue,
  Repository,
  RepositoryOptions,
  SignalOptions,
} from '@berth/core';
import type { Breakage } from './broken-backend.js';
import { BrokenBackend } from './broken-backend.js';

/** Hands every entry to the healthy `importEntries` after `change` rewrote its metadata. */
function importingWith(change: (entry: Entry<Document>) => Entry<Document>): Breakage {
  return {
    repository: (inner) => ({
      importEntries: (entries: readonly Entry<Document>[], options?: SignalOptions) =>
        inner.importEntries(Array.isArray(entries) ? entries.map(change) : entries, options),
    }),
  };
}

/** Rewrites what the healthy `collections()` lists. */
function listingWith(change: (listed: CollectionInfo[]) => CollectionInfo[]): Breakage {
  return { collections: async (inner, options) => change(await inner.collections(options)) };
}

/**
 * Broken `collections()`, `importEntries()` and `migrate()`, each with the
 * case of the admin groups written to catch it.
 */
export const brokenAdminAdapters: readonly {
  readonly name: string;
  readonly group: string;
  readonly case: string;
  readonly breakage: Breakage;
}[] = [
  {
    name: 'bumps the version of imported entries, as a write would',
    group: 'import-entries',
    case: 'keeps version and both times exactly',
    breakage: importingWith((entry) => ({ ...entry, meta: { ...entry.meta, version: entry.meta.version + 1 } })),
  },
  {
    name: 'stamps imported entries with the current time',
    group: 'import-entries',
    case: 'keeps version and both times exactly',
    breakage: importingWith((entry) => ({ ...entry, meta: { ...entry.meta, updatedAt: new Date() } })),
  },
  {
    name: 'imports entries one by one, so a unique clash keeps the ones before it',
    group: 'import-entries',
    case: 'a unique index clash is ALREADY_EXISTS and imports nothing',
    breakage: {
      repository: (inner) => ({
        importEntries: async (entries: readonly Entry<Document>[], options?: SignalOptions) => {
          let imported = 0;
          for (const entry of entries) imported += await inner.importEntries([entry], options);
          return imported;
        },
      }),
    },
  },
  {
    name: 'lists collections in reverse order',
    group: 'collections',
    case: 'lists written collections sorted by code point',
    breakage: listingWith((listed) => listed.reverse()),
  },
  {
    name: 'lists unique indexes without their uniqueness',
    group: 'collections',
    case: 'lists indexes as declared',
    breakage: listingWith((listed) =>
      listed.map((info) => ({
        ...info,
        indexes: info.indexes.map(({ unique: _unique, ...index }) => index),
      })),
    ),
  },
  {
    name: 'reports a migration as applied on every call',
    group: 'migrate',
    case: 'resolves { applied: [] } on a connected backend',
    breakage: { migrate: async () => ({ applied: ['1 initial schema'] }) },
  },
];

/**
 * A backend whose `collections()` lists only what was written through this
 * very object: what a registry kept in process memory gives, blind to the
 * collections another process (or backend) created.
 */
export class ForgetfulBackend extends BrokenBackend {
  private readonly written = new Set<string>();

  constructor(shared?: ForgetfulBackend) {
    super({}, shared?.engine);
  }

  override repository<T extends Document = Document>(name: string, options?: RepositoryOptions<T>): Repository<T> {
    this.written.add(name);
    return super.repository<T>(name, options);
  }

  override async collections(options?: SignalOptions): Promise<CollectionInfo[]> {
    return (await super.collections(options)).filter((info) => this.written.has(info.name));
  }
}

/** Replacement methods for a queue (as `broken-queues.ts` takes them), given the healthy queue. */
type QueueOverrides = (inner: JobQueue<DocumentValue>) => Partial<JobQueue<DocumentValue>>;

/** Hands every job to the healthy `importJobs` after `change` rewrote it. */
function importingJobsWith(change: (job: Job<DocumentValue>) => Job<DocumentValue>): QueueOverrides {
  return (inner) => ({
    importJobs: (jobs: readonly Job<DocumentValue>[], options?: SignalOptions) =>
      inner.importJobs(Array.isArray(jobs) ? jobs.map(change) : jobs, options),
  });
}

/** Imports as the healthy queue does, but its subscribers never see the `enqueued` of an imported job. */
const importEmitsNothing: QueueOverrides = (inner) => {
  const imported = new Set<string>();
  return {
    subscribe: (listener, options) =>
      inner.subscribe((event) => {
        if (!(event.type === 'enqueued' && imported.has(event.jobId))) listener(event);
      }, options),
    importJobs: (jobs: readonly Job<DocumentValue>[], options?: SignalOptions) => {
      if (Array.isArray(jobs)) for (const job of jobs) imported.add(job.id);
      return inner.importJobs(jobs, options);
    },
  };
};

/** Broken `importJobs()`, each with the case of the queue-import group written to catch it. */
export const brokenImports: readonly {
  readonly name: string;
  readonly group: string;
  readonly rejectedBy: string;
  readonly overrides: QueueOverrides;
}[] = [
  {
    name: 'drops the errors of imported jobs',
    group: 'queue-import',
    rejectedBy: 'every field of every importable state round-trips through get()',
    overrides: importingJobsWith((job) => ({ ...job, errors: [] })),
  },
  {
    name: 'imports every job at the default priority',
    group: 'queue-import',
    rejectedBy: 'imported waiting jobs are claimed by priority, then due time, then import order',
    overrides: importingJobsWith((job) => ({ ...job, priority: 0 })),
  },
  {
    name: 'imports a waiting job whose dedupe key a live job holds',
    group: 'queue-import',
    rejectedBy: 'a waiting job whose dedupe key a live job holds is skipped; a finished one is imported',
    overrides: importingJobsWith((job) => (job.state === 'waiting' ? { ...job, dedupeKey: undefined } : job)),
  },
  {
    name: 'emits no enqueued for the waiting jobs it imports',
    group: 'queue-import',
    rejectedBy: 'each imported waiting job emits enqueued with its own runAt; finished and skipped jobs emit nothing',
    overrides: importEmitsNothing,
  },
];
