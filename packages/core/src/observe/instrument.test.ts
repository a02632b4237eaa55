import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Backend, CollectionInfo, MigrationReport, TransactionScope } from '../backend/backend.js';
import type { Capabilities } from '../backend/capabilities.js';
import { NotFoundError } from '../errors.js';
import type { JobQueue, Worker } from '../queue/job-queue.js';
import type { Repository, RepositoryOptions } from '../repository/repository.js';
import { RecordingLogger } from '../testing/recording-logger.js';
import {
  type InstrumentHooks,
  instrument,
  type OperationEvent,
  type OperationStart,
  type RepositoryDeclaration,
} from './instrument.js';

type Canned = Record<string, unknown>;

const lease = { job: { id: 'j1' }, token: 't', expiresAt: new Date(0) };
const repositoryResults: Canned = {
  get: { id: 'a' },
  getEntry: null,
  getMany: [{ id: 'a' }, null, { id: 'c' }],
  find: [{ id: 'a' }, { id: 'b' }],
  findPage: { items: [{ id: 'a' }], nextCursor: 'x' },
  findOne: null,
  count: 7,
  countBy: [
    { value: 'x', count: 1 },
    { value: null, count: 2 },
  ],
  exists: true,
  explain: { strategy: 'scan', detail: 'full scan' },
  insert: { id: 'a' },
  replace: { id: 'a' },
  upsert: { id: 'a' },
  update: { id: 'a' },
  delete: false,
  insertMany: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
  upsertMany: [{ id: 'a' }],
  updateMany: 4,
  deleteMany: 5,
  findEntries: [{ document: { id: 'a' }, meta: { version: 1, createdAt: new Date(0), updatedAt: new Date(0) } }],
  findEntriesPage: { items: [], nextCursor: null },
  importEntries: 2,
};
const queueResults: Canned = {
  enqueue: { id: 'j1', deduplicated: true },
  enqueueMany: [
    { id: 'j1', deduplicated: false },
    { id: 'j2', deduplicated: true },
    { id: 'j3', deduplicated: false },
  ],
  dequeue: lease,
  dequeueMany: [lease, lease],
  complete: undefined,
  fail: 'dead',
  extendLease: lease,
  release: undefined,
  get: null,
  cancel: true,
  retry: false,
  stats: { waiting: 0, active: 0, completed: 0, dead: 0, cancelled: 0 },
  purge: 3,
  importJobs: { imported: 2, skipped: 1 },
};

/** An object whose every method resolves the canned value, or rejects with `failures[method]`. */
function fake<T>(name: string, results: Canned, failures: Record<string, unknown>, calls: string[]): T {
  const target: Record<string, unknown> = { name };
  for (const method of Object.keys(results)) {
    target[method] = async () => {
      calls.push(`${name}.${method}`);
      if (method in failures) throw failures[method];
      return results[method];
    };
  }
  return target as T;
}

// Cast: the wrapper passes capabilities through untouched, so the test need not track every flag.
const capabilities = {
  repository: { transactions: 'multi-collection', uniqueIndexes: true, durable: false },
  queue: { level: 'single-node', transactionalEnqueue: true, durable: false },
} as Capabilities;

class FakeBackend implements Backend {
  readonly kind: string = 'fake';
  readonly capabilities: Capabilities = capabilities;
  readonly calls: string[] = [];
  failures: Record<string, unknown> = {};
  items: number[] = [1, 2, 3];
  iteratorClosed = false;
  readonly worker: Worker = { running: 0, close: async () => {}, [Symbol.asyncDispose]: async () => {} };
  #secret = 'private state';

  async connect(): Promise<void> {
    this.calls.push('connect');
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
  async health(): Promise<{ ok: boolean; latencyMs: number }> {
    return { ok: true, latencyMs: 1 };
  }
  async flush(): Promise<void> {
    this.calls.push('flush');
  }
  async collections(): Promise<CollectionInfo[]> {
    this.calls.push('collections');
    return [{ name: 'users', indexes: [], approximateBytes: undefined }];
  }
  async queues(): Promise<string[]> {
    this.calls.push('queues');
    return ['mails', 'reports'];
  }
  async migrate(): Promise<MigrationReport> {
    this.calls.push('migrate');
    if ('migrate' in this.failures) throw this.failures.migrate;
    return { applied: ['3 health probe'] };
  }
  /** Not a port member: must pass through with `this` intact. */
  secret(): string {
    return this.#secret;
  }
  repository<T extends { id: string }>(name: string, _options?: RepositoryOptions<T>): Repository<T> {
    const repository = fake<Repository<T>>(name, repositoryResults, this.failures, this.calls);
    const backend = this;
    (repository as { iterateEntries: unknown }).iterateEntries = async function* () {
      for (const item of backend.items) yield { document: { id: String(item) }, meta: {} };
    };
    (repository as { iterate: unknown }).iterate = async function* () {
      try {
        for (const item of backend.items) {
          if (item < 0) throw backend.failures.iterate;
          yield { id: String(item) };
        }
      } finally {
        backend.iteratorClosed = true;
      }
    };
    return repository;
  }
  queue<T>(name: string): JobQueue<T> {
    const queue = fake<JobQueue<T>>(name, queueResults, this.failures, this.calls);
    (queue as { work: unknown }).work = () => this.worker;
    return queue;
  }
  async transaction<R>(work: (tx: TransactionScope) => Promise<R>): Promise<R> {
    this.calls.push('begin');
    const result = await work({
      repository: (name) => this.repository(name),
      queue: (name) => this.queue(name),
    });
    this.calls.push('commit');
    return result;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function setup(extra: Partial<InstrumentHooks> = {}): {
  inner: FakeBackend;
  backend: FakeBackend;
  events: OperationEvent[];
} {
  const events: OperationEvent[] = [];
  const inner = new FakeBackend();
  const backend = instrument(inner, { onOperation: (event) => events.push(event), ...extra });
  return { inner, backend, events };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('instrument', () => {
  it('reports the administration methods: importEntries, importJobs (rows imported), collections, queues, migrate', async () => {
    const { backend, events, inner } = setup();
    const entries = [{ document: { id: 'a' }, meta: { version: 7, createdAt: new Date(0), updatedAt: new Date(1) } }];
    expect(await backend.repository('players').importEntries(entries)).toBe(2);
    expect(await backend.queue('mails').importJobs([])).toStrictEqual({ imported: 2, skipped: 1 });
    expect(await backend.collections()).toStrictEqual([{ name: 'users', indexes: [], approximateBytes: undefined }]);
    expect(await backend.queues()).toStrictEqual(['mails', 'reports']);
    expect(await backend.migrate()).toStrictEqual({ applied: ['3 health probe'] });
    expect(events.map((event) => [event.kind, event.target, event.operation, event.rows])).toEqual([
      ['repository', 'players', 'importEntries', 2],
      ['queue', 'mails', 'importJobs', 2],
      ['backend', '', 'collections', 1],
      ['backend', '', 'queues', 2],
      ['backend', '', 'migrate', 1],
    ]);
    inner.failures.migrate = new NotFoundError('gone');
    await expect(backend.migrate()).rejects.toBe(inner.failures.migrate);
    expect(events.at(-1)).toMatchObject({ operation: 'migrate', ok: false, error: inner.failures.migrate });
  });

  it('reports every repository method once, with rows, and returns what the adapter returned', async () => {
    const { backend, events } = setup();
    const players = backend.repository('players');
    expect(players.name).toBe('players');
    const where = { level: { $gte: 2 } };
    const query = { where, orderBy: 'name' };
    const results = [
      await players.get('a'),
      await players.getEntry('a'),
      await players.getMany(['a', 'b', 'c']),
      await players.find(query),
      await players.findPage(query),
      await players.findOne(query),
      await players.count(where),
      await players.countBy('guild', where),
      await players.exists(where),
      await players.explain(query),
      await players.insert({}),
      await players.replace({ id: 'a' }),
      await players.upsert({ id: 'a' }),
      await players.update('a', { $set: { x: 1 } }),
      await players.delete('a'),
      await players.insertMany([{}, {}, {}]),
      await players.upsertMany([{ id: 'a' }]),
      await players.updateMany(where, { $set: { x: 1 } }),
      await players.deleteMany(where),
      await players.findEntries(query),
      await players.findEntriesPage(query),
    ];
    const operations = Object.keys(repositoryResults);
    for (const [index, result] of results.entries()) {
      expect(result).toBe(repositoryResults[operations[index] as string]);
    }
    expect(events.map((event) => [event.operation, event.rows])).toEqual([
      ['get', 1],
      ['getEntry', 0],
      ['getMany', 2],
      ['find', 2],
      ['findPage', 1],
      ['findOne', 0],
      ['count', 7],
      ['countBy', 2],
      ['exists', 1],
      ['explain', undefined],
      ['insert', 1],
      ['replace', 1],
      ['upsert', 1],
      ['update', 1],
      ['delete', 0],
      ['insertMany', 3],
      ['upsertMany', 1],
      ['updateMany', 4],
      ['deleteMany', 5],
      ['findEntries', 1],
      ['findEntriesPage', 0],
    ]);
    expect(events.find((event) => event.operation === 'findEntries')?.orderBy).toBe('name');
    for (const event of events) {
      expect(event).toMatchObject({ backend: 'fake', target: 'players', kind: 'repository', ok: true });
      expect(event.transaction).toBe(false);
      expect(event.durationMs).toBeGreaterThanOrEqual(0);
      expect('error' in event).toBe(false);
    }
    const find = events.find((event) => event.operation === 'find');
    expect(find?.where).toBe(where);
    expect(find?.orderBy).toBe('name');
    expect(events.find((event) => event.operation === 'updateMany')?.where).toBe(where);
    expect('where' in (events[0] as OperationEvent)).toBe(false);
  });

  it('reports every queue method and leaves the worker to the adapter', async () => {
    const { inner, backend, events } = setup();
    const mails = backend.queue('mails');
    expect(mails.name).toBe('mails');
    await mails.enqueue({});
    await mails.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await mails.dequeue();
    await mails.dequeueMany(2);
    await mails.complete(lease);
    await mails.fail(lease, new Error('x'));
    await mails.extendLease(lease, 1000);
    await mails.release(lease);
    await mails.get('j1');
    await mails.cancel('j1');
    await mails.retry('j1');
    await mails.stats();
    await mails.purge({ finishedBefore: new Date() });
    expect(events.map((event) => [event.operation, event.rows])).toEqual([
      ['enqueue', 0],
      ['enqueueMany', 2],
      ['dequeue', 1],
      ['dequeueMany', 2],
      ['complete', 1],
      ['fail', 1],
      ['extendLease', 1],
      ['release', 1],
      ['get', 0],
      ['cancel', 1],
      ['retry', 0],
      ['stats', undefined],
      ['purge', 3],
    ]);
    for (const event of events) expect(event).toMatchObject({ target: 'mails', kind: 'queue', ok: true });
    expect(mails.work(() => {})).toBe(inner.worker);
  });

  it('reports a failure with the thrown value and rethrows it unchanged', async () => {
    const { inner, backend, events } = setup();
    const missing = new NotFoundError('players a not found', { collection: 'players', id: 'a' });
    inner.failures = { update: missing, enqueue: 'a string' };
    await expect(backend.repository('players').update('a', { x: 1 })).rejects.toBe(missing);
    await expect(backend.queue('mails').enqueue({})).rejects.toBe('a string');
    expect(events).toEqual([
      expect.objectContaining({ operation: 'update', ok: false, error: missing }),
      expect.objectContaining({ operation: 'enqueue', ok: false, error: 'a string' }),
    ]);
    expect('rows' in (events[0] as OperationEvent)).toBe(false);
  });

  it('reports the transaction and marks the operations inside it', async () => {
    const { inner, backend, events } = setup();
    const result = await backend.transaction(async (tx) => {
      await tx.repository('accounts').update('a', { $inc: { balance: 1 } });
      await tx.queue('mails').enqueue({ to: 'ada' });
      await tx.queue('mails').enqueueMany([{ payload: 1 }]);
      return 42;
    });
    expect(result).toBe(42);
    expect(inner.calls).toEqual(['begin', 'accounts.update', 'mails.enqueue', 'mails.enqueueMany', 'commit']);
    expect(events.map((event) => [event.kind, event.target, event.operation, event.transaction])).toEqual([
      ['repository', 'accounts', 'update', true],
      ['queue', 'mails', 'enqueue', true],
      ['queue', 'mails', 'enqueueMany', true],
      ['backend', '', 'transaction', true],
    ]);
    const cause = new Error('rolled back');
    await expect(
      backend.transaction(async () => {
        throw cause;
      }),
    ).rejects.toBe(cause);
    expect(events.at(-1)).toMatchObject({ operation: 'transaction', ok: false, error: cause });
  });

  it('reports iterateEntries under its own name', async () => {
    const { backend, events } = setup();
    const seen: string[] = [];
    for await (const entry of backend.repository('players').iterateEntries({ orderBy: '$updatedAt' })) {
      seen.push(entry.document.id);
    }
    expect(seen).toEqual(['1', '2', '3']);
    expect(events).toEqual([
      expect.objectContaining({ operation: 'iterateEntries', ok: true, rows: 3, orderBy: '$updatedAt' }),
    ]);
  });

  it('reports an iteration once, when it ends, with the items yielded', async () => {
    const { inner, backend, events } = setup();
    const players = backend.repository('players');
    const seen: string[] = [];
    for await (const player of players.iterate({ where: { level: 1 } })) seen.push(player.id);
    expect(seen).toEqual(['1', '2', '3']);
    expect(events).toEqual([expect.objectContaining({ operation: 'iterate', ok: true, rows: 3, where: { level: 1 } })]);

    // Broken off: the adapter's iterator is closed and the event still comes.
    inner.iteratorClosed = false;
    for await (const _ of players.iterate()) break;
    expect(inner.iteratorClosed).toBe(true);
    expect(events[1]).toMatchObject({ operation: 'iterate', ok: true, rows: 1 });

    const broken = new Error('cursor lost');
    inner.items = [1, -1];
    inner.failures = { iterate: broken };
    const consume = async (): Promise<void> => {
      for await (const _ of players.iterate()) {
        // consume
      }
    };
    await expect(consume()).rejects.toBe(broken);
    expect(events).toHaveLength(3);
    expect(events[2]).toMatchObject({ operation: 'iterate', ok: false, error: broken });
    expect('rows' in (events[2] as OperationEvent)).toBe(false);
  });

  it('reports connect, close, health and dispose at the backend level', async () => {
    const { backend, events } = setup();
    await backend.connect();
    expect(await backend.health()).toEqual({ ok: true, latencyMs: 1 });
    await backend.close();
    await backend[Symbol.asyncDispose]();
    expect(events.map((event) => [event.kind, event.target, event.operation])).toEqual([
      ['backend', '', 'connect'],
      ['backend', '', 'health'],
      ['backend', '', 'close'],
      ['backend', '', 'close'],
    ]);
  });

  it('passes members outside the ports through to the real backend', () => {
    const { inner, backend } = setup();
    expect(backend).not.toBe(inner);
    expect(backend.kind).toBe('fake');
    expect(backend.capabilities).toBe(capabilities);
    expect(backend).toBeInstanceOf(FakeBackend);
    expect(backend.secret()).toBe('private state');
    expect(backend.secret).toBe(backend.secret);
  });

  it('tells which indexes each repository declares', () => {
    const declarations: RepositoryDeclaration[] = [];
    const backend = instrument(new FakeBackend(), { onRepository: (declaration) => declarations.push(declaration) });
    backend.repository('players', { indexes: [{ field: 'level', type: 'number' }] });
    backend.repository('guilds');
    expect(declarations).toEqual([
      { backend: 'fake', collection: 'players', indexes: [{ field: 'level', type: 'number' }] },
      { backend: 'fake', collection: 'guilds', indexes: [] },
    ]);
  });

  it('says a hook threw to the logger it was given, not to the console', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    const logger = new RecordingLogger();
    const bug = new Error('hook bug');
    const backend = instrument(new FakeBackend(), {
      onOperation: () => {
        throw bug;
      },
      logger,
    });
    expect(await backend.repository('players').count()).toBe(7);
    expect(logger.lines).toStrictEqual([
      {
        level: 'error',
        message: 'berth instrument: a hook threw; the operation went on, and later hook errors are ignored',
        details: { error: bug, backend: 'fake' },
      },
    ]);
    expect(printed).not.toHaveBeenCalled();
    printed.mockRestore();
  });

  it('never lets a hook break an operation, and says so once', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const backend = instrument(new FakeBackend(), {
      onOperation: () => {
        throw new Error('hook bug');
      },
      onRepository: () => {
        throw new Error('hook bug');
      },
    });
    const players = backend.repository('players');
    expect(await players.count()).toBe(7);
    expect(await players.get('a')).toEqual({ id: 'a' });
    expect(error).toHaveBeenCalledTimes(1);

    const asyncHook = instrument(new FakeBackend(), { onOperation: () => Promise.reject(new Error('async bug')) });
    expect(await asyncHook.repository('players').count()).toBe(7);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(error).toHaveBeenCalledTimes(2);
  });

  it('rejects a missing backend or hooks', () => {
    expect(() => instrument(null as never, {})).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => instrument(new FakeBackend(), undefined as never)).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
  });

  it('reports a start before each end, with one id, and parents the operations of a transaction', async () => {
    const log: string[] = [];
    const starts: OperationStart[] = [];
    const backend = instrument(new FakeBackend(), {
      onStart: (start) => {
        starts.push(start);
        log.push(
          `start ${start.operation} #${start.id}${start.parentId === undefined ? '' : ` in #${start.parentId}`}`,
        );
      },
      onOperation: (end) => log.push(`end ${end.operation} #${end.id} ${end.ok ? 'ok' : 'failed'}`),
    });
    await backend.repository('players').find({ where: { level: 1 } });
    await backend.transaction(async (tx) => {
      await tx.repository('accounts').update('a', { $inc: { balance: 1 } });
      await tx.queue('mails').enqueue({});
    });
    await backend.flush();
    for await (const _ of backend.repository('players').iterate()) break;
    expect(log).toEqual([
      'start find #1',
      'end find #1 ok',
      'start transaction #2',
      'start update #3 in #2',
      'end update #3 ok',
      'start enqueue #4 in #2',
      'end enqueue #4 ok',
      'end transaction #2 ok',
      'start flush #5',
      'end flush #5 ok',
      'start iterate #6',
      'end iterate #6 ok',
    ]);
    expect(starts[0]).toStrictEqual({
      id: 1,
      backend: 'fake',
      target: 'players',
      kind: 'repository',
      operation: 'find',
      transaction: false,
      where: { level: 1 },
    });
  });

  it('pairs a start with an end when the call throws synchronously, and reports nothing for an iterator never read', async () => {
    const { inner, backend, events } = setup();
    const starts: OperationStart[] = [];
    const traced = instrument(inner, {
      onStart: (start) => starts.push(start),
      onOperation: (end) => events.push(end),
    });
    const refused = new Error('sync refusal');
    const players = traced.repository('players');
    (players as unknown as { inner: { iterate: unknown } }).inner.iterate = () => {
      throw refused;
    };
    expect(() => players.iterate({ where: { level: 1 } })).toThrow(refused);
    const items = backend.repository('players').iterate();
    await items.return?.();
    expect(starts.map((start) => [start.operation, start.id])).toEqual([['iterate', 1]]);
    expect(events).toEqual([expect.objectContaining({ id: 1, operation: 'iterate', ok: false, error: refused })]);
  });

  it('reports one handle per job when the adapter runs a worker of its own', async () => {
    const { inner, backend, events } = setup();
    const handled: unknown[] = [];
    const queue = inner.queue.bind(inner);
    (inner as { queue: unknown }).queue = (name: string) => ({
      ...queue(name),
      work: (handler: (job: unknown, context: unknown) => unknown) => {
        handled.push(typeof handler === 'function' ? handler({ id: 'j7', attempts: 3, payload: 1 }, {}) : handler);
        return inner.worker;
      },
    });
    expect(backend.queue('mails').work(() => 'done')).toBe(inner.worker);
    expect(await handled[0]).toBe('done');
    expect(events).toEqual([
      expect.objectContaining({ operation: 'handle', jobId: 'j7', attempt: 3, worker: true, ok: true }),
    ]);
    expect('parentId' in (events[0] as OperationEvent)).toBe(false);
    // A non-function handler reaches the adapter as it is, to be refused there.
    expect(backend.queue('mails').work('nope' as never)).toBe(inner.worker);
    expect(handled[1]).toBe('nope');
    expect(events).toHaveLength(1);
  });

  it('only forwards when no hook listens', async () => {
    const inner = new FakeBackend();
    const backend = instrument(inner, {});
    const players = backend.repository('players');
    expect(await players.find()).toBe(repositoryResults.find);
    const seen: string[] = [];
    for await (const player of players.iterate()) seen.push(player.id);
    expect(seen).toEqual(['1', '2', '3']);
    expect(inner.calls).toEqual(['players.find']);
  });
});
