import { MAX_NESTING_DEPTH, stringifyDocument, type UpdateStep } from '@berth/core/adapter';

/** Steps and path depth the one-statement form takes: its texts (prepared by name) stay a small set. */
const MAX_STEPS = 4;
const MAX_DEPTH = 4;

/** 2^53 − 1: integer sums up to this are exact in doubles, so PostgreSQL's numeric sum is JavaScript's. */
const MAX_EXACT = '9007199254740991';

/** Levels of objects and arrays in `value`, counting stops past `limit`. */
function nesting(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null || value instanceof Date || limit < 0) return 0;
  let deepest = 0;
  for (const element of Array.isArray(value) ? value : Object.values(value)) {
    deepest = Math.max(deepest, nesting(element, limit - 1));
    if (deepest >= limit) break;
  }
  return deepest + 1;
}

/** The one-statement form of an update, and its bound values. */
export interface UpdateStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * `update` as one `UPDATE … RETURNING`, for the steps whose result
 * PostgreSQL computes exactly as core's `applyUpdate` would: `$set` and
 * `$unset` under parents that are objects (not Dates), `$inc` of a safe integer on a
 * stored integer whose sum stays a safe integer. Every such condition is in
 * the WHERE clause, with the expected version and the size limit (JSONB's
 * text is never shorter than Berth's JSON, so a document it lets through
 * is within the limit; a `$set` value that could make the document too
 * deep never takes this form): when the statement matches no row, nothing was
 * written and the caller takes the general path (read, apply in
 * JavaScript, write), which gives the exact result or error: a missing
 * document, an upsert, a stale version, `$inc` on a string or a fraction,
 * a parent to create. Undefined when the steps cannot take this form.
 */
export function updateStatement(
  table: string,
  id: string,
  steps: readonly UpdateStep[],
  expectedVersion: number | undefined,
  maxBytes: number,
  now: Date,
): UpdateStatement | undefined {
  if (steps.length > MAX_STEPS || steps.some((step) => step.path.length > MAX_DEPTH)) return undefined;
  const values: unknown[] = [id, now.toISOString()];
  const bind = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  let data = 'data';
  const guards: string[] = [];
  for (const step of steps) {
    if (step.kind === 'inc' && !Number.isSafeInteger(step.amount)) return undefined;
    // A value legal alone may make the document too deep where it lands: core checks that (with a margin of one level).
    if (step.kind === 'set' && step.path.length + nesting(step.value, MAX_NESTING_DEPTH) >= MAX_NESTING_DEPTH) {
      return undefined;
    }
    const path = `${bind(step.path)}::text[]`;
    // `#>` and `jsonb_set` index into arrays by number and into a Date's `{"$date": …}` where core refuses or
    // skips: every parent must be an object that is not a Date (no other object has a `$` key).
    for (let depth = 1; depth < step.path.length; depth++) {
      const parent = `(data #> (${path})[1:${depth}])`;
      guards.push(`jsonb_typeof(${parent}) = 'object' AND ${parent} -> '$date' IS NULL`);
    }
    if (step.kind === 'set') {
      data = `jsonb_set(${data}, ${path}, ${bind(stringifyDocument(step.value))}::jsonb)`;
    } else if (step.kind === 'unset') {
      data = `(${data} #- ${path})`;
    } else {
      // CASE, not AND, wherever the text is cast: PostgreSQL orders AND-ed conditions by cost, not as
      // written, so the cast must itself never run on a value that is not a number (the sum is then NULL).
      const stored = `CASE WHEN jsonb_typeof(data #> ${path}) = 'number' THEN (data #>> ${path})::numeric END`;
      const sum = `((${stored}) + ${bind(step.amount)}::numeric)`;
      guards.push(`coalesce((${stored}) % 1 = 0 AND abs(${sum}) <= ${MAX_EXACT}, false)`);
      data = `jsonb_set(${data}, ${path}, to_jsonb(${sum}))`;
    }
  }
  if (expectedVersion !== undefined) guards.push(`version = ${bind(expectedVersion)}::bigint`);
  guards.push(`octet_length((${data})::text) <= ${bind(maxBytes)}::bigint`);
  const text = `UPDATE ${table} SET data = ${data}, version = version + 1, updated_at = $2::timestamptz
    WHERE id = $1 AND ${guards.join(' AND ')}
    RETURNING data::text AS data, version, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms, (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms`;
  return { text, values };
}
