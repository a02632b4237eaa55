import type { AnyFilter, CollectionInfo, Collector, IndexDefinition, RepositoryBackend } from '@berth/core';
import { isBerthError } from '@berth/core';
import { parseDocument, toJsonValue } from '@berth/core/adapter';
import { type Html, html } from '../html.js';
import { href, type PageContext, page, table } from './layout.js';

/** Documents per page of the browser. */
const DOCUMENTS_PER_PAGE = 25;

/** Longest filter the browser accepts, in characters. */
const MAX_FILTER_CHARS = 10_000;

/** Characters of a document shown before it is opened. */
const SUMMARY_CHARS = 160;

function describeIndex(index: IndexDefinition): string {
  const unique = index.unique === true ? ', unique' : '';
  if ('fields' in index) {
    const fields = index.fields.map(({ field }) => field).join(' + ');
    return `${index.name === undefined ? fields : `${index.name}: ${fields}`}${unique}`;
  }
  return `${index.field} (${index.type}${unique})`;
}

function humanBytes(bytes: number | undefined): string {
  if (bytes === undefined) return 'unknown';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The collections page: counts, declared indexes, approximate sizes. */
export async function collectionsPage(context: PageContext, backend: RepositoryBackend): Promise<string> {
  const collections = await backend.collections();
  const counts = await Promise.all(collections.map(({ name }) => backend.repository(name).count()));
  const rows = collections.map(
    (collection: CollectionInfo, index) =>
      html`<tr><th scope="row"><a href="${href(context, ['collections', collection.name])}">${collection.name}</a></th><td class="count">${counts[index]}</td><td>${collection.indexes.length === 0 ? '-' : collection.indexes.map((each) => html`<div>${describeIndex(each)}</div>`)}</td><td>${humanBytes(collection.approximateBytes)}</td></tr>`,
  );
  const content = table(['Collection', 'Documents', 'Indexes', 'Size'], rows, 'No collections yet.');
  return page(context, { heading: 'Collections', section: 'collections' }, content);
}

/** What the filter box holds: the query, or why it cannot run. */
function parseFilter(text: string): { readonly where?: AnyFilter; readonly problem?: string } {
  if (text.trim() === '') return {};
  if (text.length > MAX_FILTER_CHARS) return { problem: `the filter is longer than ${MAX_FILTER_CHARS} characters` };
  let value: unknown;
  try {
    value = parseDocument(text);
  } catch (error) {
    return { problem: `the filter is not JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'the filter must be a JSON object, like {"status": "open"}' };
  }
  // The repository checks the filter itself: a bad operator or value is its VALIDATION error, shown on the page.
  return { where: value as AnyFilter };
}

/** One document, closed: its id and the start of its JSON; open: all of it. */
function documentRow(document: Record<string, unknown>): Html {
  const json = JSON.stringify(toJsonValue(document));
  const summary = json.length > SUMMARY_CHARS ? `${json.slice(0, SUMMARY_CHARS)}…` : json;
  return html`<tr><td class="id">${String(document.id)}</td><td><details><summary>${summary}</summary><pre class="json">${JSON.stringify(toJsonValue(document), null, 2)}</pre></details></td></tr>`;
}

/** The document browser: a filter box (Berth's filter language, checked), a page of documents, the next page. */
export async function collectionPage(
  context: PageContext,
  backend: RepositoryBackend,
  name: string,
  filterText: string,
  cursor: string | undefined,
): Promise<string> {
  const repository = backend.repository(name);
  const { where, problem } = parseFilter(filterText);
  let body: Html;
  let error = problem;
  if (error === undefined) {
    try {
      const result = await repository.findPage({ where, limit: DOCUMENTS_PER_PAGE, cursor });
      const next =
        result.nextCursor === null
          ? ''
          : html`<p><a rel="next" href="${href(context, ['collections', name], { filter: filterText, cursor: result.nextCursor })}">Next page</a></p>`;
      body = html`${table(['Id', 'Document'], result.items.map(documentRow), 'No documents match.')}${next}`;
    } catch (caught) {
      if (!isBerthError(caught, 'VALIDATION')) throw caught;
      error = caught.message;
      body = html``;
    }
  } else body = html``;
  const content = html`<form method="get" action="${href(context, ['collections', name])}" class="filter">
<label for="filter">Filter</label>
<textarea id="filter" name="filter" rows="2" spellcheck="false" placeholder='{"status": "open", "total": {"$gt": 100}}'>${filterText}</textarea>
<button type="submit">Find</button>
</form>
${error === undefined ? '' : html`<p class="problem" role="alert">${error}</p>`}
${body}`;
  return page(context, { heading: `Collection ${name}`, section: 'collections' }, content);
}

/** The operations page: p50/p95/p99 per operation, the slowest operations (values hidden), index suggestions. */
export function operationsPage(context: PageContext, collector: Collector): string {
  const report = collector.report();
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const operations = report.operations.map(
    (each) =>
      html`<tr><td>${each.target}</td><td>${each.operation}</td><td class="count">${each.count}</td><td class="count">${each.errors}</td><td>${ms(each.p50Ms)}</td><td>${ms(each.p95Ms)}</td><td>${ms(each.p99Ms)}</td><td>${ms(each.maxMs)}</td></tr>`,
  );
  const slowest = report.slowest.map(
    (each) =>
      html`<tr><td>${each.target}</td><td>${each.operation}</td><td>${ms(each.durationMs)}</td><td><code>${each.query ?? '-'}</code></td></tr>`,
  );
  const suggestions = report.indexSuggestions.map(
    (each) =>
      html`<tr><td>${each.collection}</td><td><code>${each.fields.join(' + ')}</code></td><td class="count">${each.filterCount + each.sortCount}</td><td><code>${each.index === undefined ? '-' : JSON.stringify(each.index)}</code></td><td><code>${each.example}</code></td></tr>`,
  );
  const content = html`<p>Measured since ${report.since.toISOString()}.</p>
<h2>Per operation</h2>
${table(['Target', 'Operation', 'Calls', 'Errors', 'p50', 'p95', 'p99', 'Max'], operations, 'Nothing measured yet.')}
<h2>Slowest</h2>
${table(['Target', 'Operation', 'Duration', 'Query shape'], slowest, 'Nothing measured yet.')}
<h2>Index suggestions</h2>
${table(['Collection', 'Fields', 'Queries', 'Index', 'Example'], suggestions, 'No suggestions.')}`;
  return page(context, { heading: 'Operations', section: 'operations' }, content);
}
