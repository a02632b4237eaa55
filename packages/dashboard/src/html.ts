/**
 * HTML built from templates whose interpolated values are escaped unless
 * they are already {@link Html}: a stored string can never become markup.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Text made safe for an HTML text node or a quoted attribute value: what the
 * dashboard does to every stored string it shows.
 *
 * ### Examples
 * ```ts
 * import { escapeHtml } from '@berth/dashboard';
 *
 * escapeHtml('<script>alert("x")</script>'); // '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/** Markup that is already safe: what {@link html} returns. */
export class Html {
  constructor(readonly markup: string) {}

  toString(): string {
    return this.markup;
  }
}

/** An interpolated value as markup: Html as is, arrays joined, null/undefined/false as nothing, the rest escaped. */
function markupOf(value: unknown): string {
  if (value instanceof Html) return value.markup;
  if (Array.isArray(value)) return value.map(markupOf).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** `html\`<td>${text}</td>\``: the template's literal parts as markup, every value escaped. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let markup = strings[0] ?? '';
  for (let index = 0; index < values.length; index += 1) markup += markupOf(values[index]) + (strings[index + 1] ?? '');
  return new Html(markup);
}
