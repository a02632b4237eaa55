import {
  type DocumentScalar,
  type Filter,
  isBerthError,
  type Page,
  type Query,
  type Repository,
  type Update,
  type UpdateOperators,
} from '@berth/core';
import {
  applyUpdate,
  compareValues,
  copyDocument,
  getPathValue,
  isScalar,
  matchesNode,
  parseFieldPath,
  parseFilter,
  parseUpdate,
  sortDocuments,
} from '@berth/core/adapter';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { ConformanceContext } from '../harness.js';
import { type LooseDocument, render } from './query-fixtures.js';

// What the model and differential groups share: the operations, the
// reference model they are checked against, and the run that compares them.

/** One step of a random run, replayed on the adapter and on the reference model. */
export type Operation =
  | { readonly kind: 'insert'; readonly document: unknown }
  | { readonly kind: 'getMany'; readonly ids: readonly string[] }
  | { readonly kind: 'findPageAt'; readonly query: Query; readonly cursor: string }
  | { readonly kind: 'insertMany'; readonly documents: readonly LooseDocument[] }
  | { readonly kind: 'update'; readonly id: string; readonly update: Update<LooseDocument> | UpdateOperators }
  | {
      readonly kind: 'updateMany';
      readonly where: Filter | undefined;
      readonly update: Update<LooseDocument> | UpdateOperators;
    }
  | { readonly kind: 'upsert' | 'replace'; readonly document: LooseDocument }
  | { readonly kind: 'delete' | 'get'; readonly id: string }
  | { readonly kind: 'deleteMany' | 'count' | 'exists'; readonly where: Filter | undefined }
  | { readonly kind: 'find' | 'findOne'; readonly query: Query }
  | { readonly kind: 'findPage'; readonly query: Query; readonly pageSize: number }
  | { readonly kind: 'countBy'; readonly field: string; readonly where: Filter | undefined };

// The model: a Map of documents and core's reference evaluator, validating
// and normalising every write as adapters do (core's copyDocument).

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly code: string };

class ReferenceModel {
  private readonly documents = new Map<string, LooseDocument>();

  private matches(where: Filter | undefined): LooseDocument[] {
    // Parsed first: a malformed filter is refused even when nothing could match it.
    const filter = parseFilter(where);
    return [...this.documents.values()].filter((document) => matchesNode(document, filter));
  }

  private sorted(query: Query): LooseDocument[] {
    return sortDocuments(this.matches(query.where), query.orderBy);
  }

  private updated(document: LooseDocument, update: Update<LooseDocument> | UpdateOperators): LooseDocument {
    return copyDocument(applyUpdate(document, parseUpdate(update, document.id)));
  }

  apply(operation: Operation): unknown {
    switch (operation.kind) {
      case 'insert': {
        const document = copyDocument<LooseDocument>(operation.document);
        if (this.documents.has(document.id)) throw code('ALREADY_EXISTS');
        this.documents.set(document.id, document);
        return document;
      }
      case 'getMany':
        return operation.ids.map((id) => this.documents.get(id) ?? null);
      case 'findPageAt':
        // The query is checked first; a cursor that no findPage handed out is refused.
        this.sorted(operation.query);
        throw code('VALIDATION');
      case 'insertMany': {
        // As adapters do: validate (and normalise, -0 to 0) every document first.
        const documents = operation.documents.map((document) => copyDocument<LooseDocument>(document));
        const seen = new Set<string>();
        for (const document of documents) {
          if (this.documents.has(document.id) || seen.has(document.id)) throw code('ALREADY_EXISTS');
          seen.add(document.id);
        }
        for (const document of documents) this.documents.set(document.id, document);
        return documents;
      }
      case 'update': {
        const steps = parseUpdate(operation.update, operation.id);
        const current = this.documents.get(operation.id);
        if (current === undefined) throw code('NOT_FOUND');
        const next = copyDocument<LooseDocument>(applyUpdate(current, steps));
        this.documents.set(next.id, next);
        return next;
      }
      case 'updateMany': {
        // The update is checked before matching; all or none: every new document is computed before any is stored.
        parseUpdate(operation.update);
        const next = this.matches(operation.where).map((document) => this.updated(document, operation.update));
        for (const document of next) this.documents.set(document.id, document);
        return next.length;
      }
      case 'replace': {
        const document = copyDocument<LooseDocument>(operation.document);
        if (!this.documents.has(document.id)) throw code('NOT_FOUND');
        this.documents.set(document.id, document);
        return document;
      }
      case 'upsert': {
        const document = copyDocument<LooseDocument>(operation.document);
        this.documents.set(document.id, document);
        return document;
      }
      case 'delete':
        return this.documents.delete(operation.id);
      case 'get':
        return this.documents.get(operation.id) ?? null;
      case 'deleteMany': {
        const matches = this.matches(operation.where);
        for (const document of matches) this.documents.delete(document.id);
        return matches.length;
      }
      case 'find':
        return this.find(operation.query);
      case 'findOne':
        // findOne refuses a limit (docs/semantics.md, "Paging").
        if (operation.query.limit !== undefined) throw code('VALIDATION');
        return this.find({ ...operation.query, limit: 1 })[0] ?? null;
      case 'findPage': {
        const all = this.sorted(operation.query);
        const pages: LooseDocument[][] = [];
        for (let start = 0; start < all.length; start += operation.pageSize) {
          pages.push(all.slice(start, start + operation.pageSize));
        }
        return pages.length === 0 ? [[]] : pages;
      }
      case 'count':
        return this.matches(operation.where).length;
      case 'exists':
        return this.matches(operation.where).length > 0;
      case 'countBy':
        return this.countBy(operation.field, operation.where);
    }
  }

  private find(query: Query): LooseDocument[] {
    for (const bound of [query.limit, query.offset]) {
      if (bound !== undefined && (!Number.isInteger(bound) || bound < 0)) throw code('VALIDATION');
    }
    const offset = query.offset ?? 0;
    const all = this.sorted(query);
    return all.slice(offset, query.limit === undefined ? undefined : offset + query.limit);
  }

  private countBy(field: string, where: Filter | undefined): { value: DocumentScalar; count: number }[] {
    const path = parseFieldPath(field);
    const groups: { value: DocumentScalar; count: number }[] = [];
    for (const document of this.matches(where)) {
      const value = getPathValue(document, path) ?? null;
      if (!isScalar(value)) continue;
      const group = groups.find((candidate) => compareValues(candidate.value, value) === 0);
      if (group === undefined) groups.push({ value, count: 1 });
      else group.count += 1;
    }
    return groups.sort((x, y) => compareValues(x.value, y.value));
  }
}

class ModelError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function code(name: string): ModelError {
  return new ModelError(name);
}

function errorCode(error: unknown): string {
  if (error instanceof ModelError || isBerthError(error)) return error.code;
  return `non-Berth error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
}

function modelOutcome(model: ReferenceModel, operation: Operation): Outcome {
  try {
    return { ok: true, value: model.apply(operation) };
  } catch (error) {
    if (!(error instanceof ModelError) && !isBerthError(error)) throw error;
    return { ok: false, code: errorCode(error) };
  }
}

async function walkPages(
  repository: Repository<LooseDocument>,
  query: Query,
  pageSize: number,
): Promise<LooseDocument[][]> {
  const pages: LooseDocument[][] = [];
  let page: Page<LooseDocument> = await repository.findPage({ ...query, limit: pageSize });
  for (;;) {
    pages.push(page.items);
    if (page.nextCursor === null || pages.length > 100) return pages;
    page = await repository.findPage({ ...query, limit: pageSize, cursor: page.nextCursor });
  }
}

async function adapterOutcome(repository: Repository<LooseDocument>, operation: Operation): Promise<Outcome> {
  try {
    return { ok: true, value: await runOnAdapter(repository, operation) };
  } catch (error) {
    return { ok: false, code: errorCode(error) };
  }
}

function runOnAdapter(repository: Repository<LooseDocument>, operation: Operation): Promise<unknown> {
  switch (operation.kind) {
    case 'insert':
      return repository.insert(operation.document as LooseDocument);
    case 'getMany':
      return repository.getMany(operation.ids);
    case 'findPageAt':
      return repository.findPage({ ...operation.query, cursor: operation.cursor });
    case 'insertMany':
      return repository.insertMany(operation.documents);
    case 'update':
      return repository.update(operation.id, operation.update);
    case 'updateMany':
      return repository.updateMany(operation.where, operation.update);
    case 'replace':
      return repository.replace(operation.document);
    case 'upsert':
      return repository.upsert(operation.document);
    case 'delete':
      return repository.delete(operation.id);
    case 'get':
      return repository.get(operation.id);
    case 'deleteMany':
      return repository.deleteMany(operation.where);
    case 'find':
      return repository.find(operation.query);
    case 'findOne':
      return repository.findOne(operation.query);
    case 'findPage':
      return walkPages(repository, operation.query, operation.pageSize);
    case 'count':
      return repository.count(operation.where);
    case 'exists':
      return repository.exists(operation.where);
    case 'countBy':
      return repository.countBy(operation.field, operation.where);
  }
}

function integerFromEnvironment(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * Runs random scenarios (initial documents, then operations) on a fresh
 * collection of the adapter and on the reference model, and expects every
 * step to give the same result, in the same order, or an error of the same
 * code. `BERTH_CONFORMANCE_SEED`, `_PATH` and `_RUNS` replay or widen a run;
 * a failure names the seed.
 */
export async function expectSameAsReference(
  context: ConformanceContext,
  scenarios: fc.Arbitrary<readonly [readonly LooseDocument[], readonly Operation[]]>,
  defaultRuns: number,
): Promise<void> {
  const seed = integerFromEnvironment('BERTH_CONFORMANCE_SEED') ?? (Math.random() * 0x7fffffff) | 0;
  const path = process.env.BERTH_CONFORMANCE_PATH || undefined;
  const numRuns = integerFromEnvironment('BERTH_CONFORMANCE_RUNS') ?? defaultRuns;
  const property = fc.asyncProperty(scenarios, async ([initial, operations]) => {
    // A fresh collection per run, so shrinking replays start from nothing.
    const repository = context.repository<LooseDocument>();
    const model = new ReferenceModel();
    const steps: Operation[] = [{ kind: 'insertMany', documents: initial }, ...operations];
    for (const [index, operation] of steps.entries()) {
      const expected = modelOutcome(model, operation);
      const actual = await adapterOutcome(repository, operation);
      expect(actual, `step ${index}: ${render(operation)}`).toEqual(expected);
    }
  });
  await fc.assert(property, {
    seed,
    numRuns,
    ...(path === undefined ? {} : { path }),
    endOnFailure: path !== undefined,
    // Stop before the case's own timeout, so that a long shrink on a slow
    // engine still ends in a report with the seed rather than a bare timeout.
    interruptAfterTimeLimit: Math.floor(context.timeoutMs * 0.75),
    // Running out of time is a failure, not a quiet pass with fewer runs.
    markInterruptAsFailure: true,
    asyncReporter: async (details) => {
      if (!details.failed) return;
      const replayPath = details.counterexamplePath ?? '';
      const report = (await fc.asyncDefaultReportMessage(details)) ?? '';
      throw new Error(
        `The adapter disagreed with the reference model (seed ${details.seed}).\n` +
          `Replay this exact case with BERTH_CONFORMANCE_SEED=${details.seed} BERTH_CONFORMANCE_PATH=${replayPath}\n` +
          `or the whole run with BERTH_CONFORMANCE_SEED=${details.seed}.\n\n${report}`,
        { cause: details.errorInstance },
      );
    },
  });
}
