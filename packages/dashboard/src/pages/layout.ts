import { toJsonValue } from '@berth/core/adapter';
import { type Html, html } from '../html.js';

/** What every page needs to link within the dashboard. */
export interface PageContext {
  /** Where the dashboard is mounted (`''` or `/berth`). */
  readonly basePath: string;
  readonly title: string;
  /** Whether this request may see write buttons. */
  readonly mayWrite: boolean;
  readonly csrfToken: string;
  readonly hasQueues: boolean;
  readonly hasCollections: boolean;
  readonly hasOperations: boolean;
}

/** A link inside the dashboard: path segments are encoded, query values too. */
export function href(
  context: PageContext,
  path: readonly string[],
  query: Readonly<Record<string, string | undefined>> = {},
): string {
  const encoded = path.map((segment) => `/${encodeURIComponent(segment)}`).join('');
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') search.set(key, value);
  const text = search.toString();
  return `${context.basePath}${encoded === '' ? '/' : encoded}${text === '' ? '' : `?${text}`}`;
}

/** A page: head, navigation, the content, and the dashboard's script (no inline script anywhere). */
export function page(
  context: PageContext,
  options: { readonly heading: string; readonly section: string; readonly notice?: string | undefined },
  content: Html,
): string {
  const link = (section: string, label: string, path: readonly string[]) =>
    html`<a href="${href(context, path)}"${options.section === section ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.heading} · ${context.title}</title>
<link rel="stylesheet" href="${context.basePath}/assets/dashboard.css">
<script src="${context.basePath}/assets/dashboard.js" defer></script>
</head>
<body data-base="${context.basePath}">
<header>
<span class="brand">${context.title}</span>
<nav>
${context.hasQueues ? link('queues', 'Queues', []) : ''}
${context.hasCollections ? link('collections', 'Collections', ['collections']) : ''}
${context.hasOperations ? link('operations', 'Operations', ['operations']) : ''}
</nav>
<span class="mode">${context.mayWrite ? '' : 'read-only'}</span>
</header>
<main>
<h1>${options.heading}</h1>
${options.notice === undefined ? '' : html`<p class="notice" role="status">${options.notice}</p>`}
${content}
</main>
</body>
</html>
`.markup;
}

/** A date for a table cell: ISO, in a `<time>` the script shows in the reader's zone. */
export function when(date: Date | undefined): Html {
  return date === undefined ? html`-` : html`<time datetime="${date.toISOString()}">${date.toISOString()}</time>`;
}

/** A document value as indented JSON (Dates as `{"$date": …}`), escaped. */
export function jsonBlock(value: unknown): Html {
  return html`<pre class="json">${value === undefined ? '-' : JSON.stringify(toJsonValue(value), null, 2)}</pre>`;
}

/** A form that posts one action, with the CSRF token; its button says `label`. */
export function actionForm(context: PageContext, action: string, label: string, fields: Html = html``): Html {
  return html`<form method="post" action="${action}" class="action">
<input type="hidden" name="csrf" value="${context.csrfToken}">${fields}
<button type="submit">${label}</button>
</form>`;
}

/** A table whose columns after the first hold counts (headed to the right, like the numbers). */
export function countTable(headers: readonly string[], rows: readonly Html[], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  const [first, ...counts] = headers;
  return html`<div class="scroll"><table>
<thead><tr><th>${first}</th>${counts.map((header) => html`<th class="count">${header}</th>`)}</tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

/** A page's table from a header row and cell rows. */
export function table(headers: readonly string[], rows: readonly Html[], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="scroll"><table>
<thead><tr>${headers.map((header) => html`<th>${header}</th>`)}</tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}
