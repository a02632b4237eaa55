import { MAX_NESTING_DEPTH, stringifyDocument, type UpdateStep } from '@berth/core/adapter';

/** Steps and path depth the one-statement form takes: its texts (prepared by name) stay a small set. */
const MAX_STEPS = 4;
const MAX_DEPTH = 4;

/** 2^53 − 1: integer sums up to this are exact in doubles, so PostgreSQL's numeric sum is JavaScript's. */
const MAX_EXACT = '9007199254740991';

/** Most bytes an `$inc` adds to the JSON text: a safe integer goes from `0` to `-9007199254740991`. */
const INC_GROWTH = MAX_EXACT.length;

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
 * `$unset` under parents that are objects (not Dates), `$inc` of a safe
 * integer on a stored integer whose sum stays a safe integer. Every such
 * condition is in the WHERE clause, with the expected version and the size
 * limit, checked on the stored document with room for what the steps can add
 * (JSONB's text is never shorter than Berth's JSON). When the statement
 * matches no row, nothing was written and the caller takes the general path
 * (read, apply in JavaScript, write), which gives the exact result or error:
 * a missing document, an upsert, a stale version, `$inc` on a string or a
 * fraction, a parent to create, a document near the size limit. A `$set`
 * value that could make the document too deep never takes this form.
 * It returns the columns `returning` names. Undefined when the steps cannot
 * take this form.
 */
export function updateStatement(
  table: string,
  id: string,
  steps: readonly UpdateStep[],
  expectedVersion: number | undefined,
  maxBytes: number,
  now: Date,
  returning: string,
): UpdateStatement | undefined {
  if (steps.length > MAX_STEPS || steps.some((step) => step.path.length > MAX_DEPTH)) return undefined;
  // In the order statementText numbers them.
  const values: unknown[] = [id, now.toISOString()];
  let growth = 0;
  for (const step of steps) {
    values.push(step.path);
    if (step.kind === 'set') {
      // A value legal alone may make the document too deep where it lands: core checks that (with a margin of one level).
      if (step.path.length + nesting(step.value, MAX_NESTING_DEPTH) >= MAX_NESTING_DEPTH) return undefined;
      const text = stringifyDocument(step.value);
      // At most `,"key":value` more, when the key is new.
      growth += Buffer.byteLength(JSON.stringify(step.path.at(-1))) + Buffer.byteLength(text) + 2;
      values.push(text);
    } else if (step.kind === 'inc') {
      if (!Number.isSafeInteger(step.amount)) return undefined;
      growth += INC_GROWTH;
      values.push(step.amount);
    }
  }
  if (expectedVersion !== undefined) values.push(expectedVersion);
  values.push(maxBytes - growth);
  return { text: statementText(table, steps, expectedVersion !== undefined, returning), values };
}

/** Texts by table, columns and shape: the same text object each time, so its prepared name is found at once. */
const texts = new Map<string, string>();

/** The text of {@link updateStatement}: it depends on each step's kind and depth, not on its values. */
function statementText(table: string, steps: readonly UpdateStep[], versioned: boolean, returning: string): string {
  const shape = `${table}\0${returning}\0${versioned}\0${steps.map((step) => `${step.kind}${step.path.length}`).join()}`;
  let text = texts.get(shape);
  if (text !== undefined) return text;
  let bound = 2;
  const next = () => `$${++bound}`;
  let data = 'data';
  const guards: string[] = [];
  for (const step of steps) {
    const path = `${next()}::text[]`;
    // `#>` and `jsonb_set` index into arrays by number and into a Date's `{"$date": …}` where core refuses or
    // skips: every parent must be an object that is not a Date (no other object has a `$` key).
    for (let depth = 1; depth < step.path.length; depth++) {
      const parent = `(data #> (${path})[1:${depth}])`;
      guards.push(`jsonb_typeof(${parent}) = 'object' AND NOT ${parent} ? '$date'`);
    }
    if (step.kind === 'set') {
      data = `jsonb_set(${data}, ${path}, ${next()}::jsonb)`;
    } else if (step.kind === 'unset') {
      data = `(${data} #- ${path})`;
    } else {
      // A CASE, because PostgreSQL orders AND-ed conditions by cost, not as written: the cast never meets a
      // value that is not a number, whose sum is then NULL and matches no row. The amount is an integer,
      // so the sum is one exactly when the stored number is.
      const sum = `(CASE WHEN jsonb_typeof(data #> ${path}) = 'number' THEN (data #> ${path})::numeric END + ${next()}::numeric)`;
      guards.push(`${sum} % 1 = 0 AND abs(${sum}) <= ${MAX_EXACT}`);
      data = `jsonb_set(${data}, ${path}, to_jsonb(${sum}))`;
    }
  }
  if (versioned) guards.push(`version = ${next()}::bigint`);
  guards.push(`octet_length(data::text) <= ${next()}::bigint`);
  text = `UPDATE ${table} SET data = ${data}, version = version + 1, updated_at = $2::timestamptz
    WHERE id = $1 AND ${guards.join(' AND ')}
    RETURNING ${returning}`;
  if (texts.size >= 1_000) texts.clear();
  texts.set(shape, text);
  return text;
}
