import { batchedEventPayload, eventPayload, publishedEvents } from './pg-queue-events.js';
import { JOB_COLUMNS } from './pg-queue-rows.js';

/**
 * The server's clock in epoch milliseconds. `statement_timestamp()` is
 * stable: one value per statement, usable in index conditions. Every time
 * the queue compares (due, lease expiry) comes from here, so machines whose
 * clocks disagree still agree on when a lease ends.
 */
export const NOW = '(floor(extract(epoch FROM statement_timestamp()) * 1000))::bigint';

const COLUMN_LIST = JOB_COLUMNS.join(', ');

/** The SELECT list that copies a job row from `source`, with some columns replaced. */
function copied(source: string, overrides: Readonly<Record<string, string>>): string {
  return JOB_COLUMNS.map((column) => overrides[column] ?? `${source}.${column}`).join(', ');
}

/** The condition every lease operation puts on its row ($1 id, $2 queue, $3 token), checked in the statement itself. */
const VALID_LEASE = `id = $1 AND queue = $2 AND (seq::text || '.' || leases::text) = $3::text AND state = 'active'
  AND lease_expires_at > ${NOW}`;

/** A lease operation's check of row `row` against the token of `input`, in the statement itself. */
const validLease = (row: string, input: string) =>
  `(${row}.seq::text || '.' || ${row}.leases::text) = ${input}.token AND ${row}.state = 'active'
    AND ${row}.lease_expires_at > ${NOW}`;

/** An error kept on a job, appended to its jsonb array. */
const appendError = (error: string) => `errors || jsonb_build_array(${error})`;

/**
 * The insert of a batch of jobs. $1 queue, $2 channel, then one array per
 * column, $13 the events channel and $14 the origin; run_at NULL means "now +
 * delay_ms" by the server's clock (the caller gave no runAt), which the caller
 * computes from the `now` returned. Only a batch with dedupe keys can conflict
 * (a NULL key is not in the unique index), so only it pays for ON CONFLICT and
 * returns which jobs went in. Each job inserted publishes its `enqueued`.
 */
function insertStatement(jobs: string, deduplicated: boolean): string {
  return `WITH input AS (
      SELECT * FROM unnest($3::text[], $4::integer[], $5::bigint[], $6::bigint[], $7::integer[], $8::bigint[],
        $9::text[], $10::text[], $11::text[], $12::bigint[])
        WITH ORDINALITY AS i(id, priority, run_at, delay_ms, max_attempts, lease_ms, backoff, dedupe_key, payload,
          timeout_ms, ord)),
    inserted AS (
      INSERT INTO ${jobs} (id, queue, state, priority, run_at, max_attempts, lease_ms, backoff, dedupe_key, payload,
        created_at, updated_at, timeout_ms)
      SELECT i.id, $1, 'waiting', i.priority, coalesce(i.run_at, ${NOW} + i.delay_ms), i.max_attempts, i.lease_ms,
        i.backoff, i.dedupe_key, i.payload, ${NOW}, ${NOW}, i.timeout_ms
      FROM input i ORDER BY i.ord
      ${deduplicated ? 'ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING' : ''}
      RETURNING id, run_at, created_at),
    wake AS (SELECT pg_notify($2, $1) WHERE EXISTS (SELECT 1 FROM inserted WHERE run_at <= ${NOW})),
    published AS (${publishedEvents('$13', `SELECT ${batchedEventPayload('$14', 'enqueued', '$1', 'id', 'created_at', ['run_at'])} FROM inserted`)})
    SELECT ${deduplicated ? 'id, ' : ''}${NOW} AS now, (SELECT count(*) FROM wake) AS woken,
      (SELECT count(*) FROM published) AS published${deduplicated ? ' FROM inserted' : ''}`;
}

/**
 * The queue's statements for one schema. Only the schema (checked and
 * quoted) is spelled into the text; queue names, ids and values are always
 * bound parameters.
 */
export class PgQueueSql {
  readonly jobs: string;
  readonly done: string;
  readonly counts: string;
  readonly schedules: string;
  /** The sequence of the rows' `seq`, as a `regclass` literal's text. */
  readonly sequence: string;

  /** Inserts jobs without dedupe keys; one row: the server's time. */
  readonly insert: string;
  /** Inserts jobs some of which have dedupe keys; one row per job inserted (a held key inserts none). */
  readonly insertDeduplicated: string;
  readonly holders: string;
  readonly failing: string;
  readonly leaseOf: string;
  readonly extend: string;
  readonly release: string;
  readonly progress: string;
  readonly byId: string;
  readonly cancel: string;
  readonly revive: string;
  readonly reviveBlocker: string;
  readonly stats: string;
  readonly anyExpired: string;
  readonly purge: string;
  readonly pruneAged: string;
  readonly pruneOldest: string;
  readonly count: string;
  /** What a listener reads of a job when a notification left its progress or error out. */
  readonly eventDetails: string;

  constructor(schema: string) {
    const jobs = `${schema}._berth_jobs`;
    const done = `${schema}._berth_jobs_done`;
    this.jobs = jobs;
    this.done = done;
    this.counts = `${schema}._berth_job_counts`;
    this.schedules = `${schema}._berth_schedules`;
    this.sequence = `${schema}._berth_jobs_seq`;

    this.insert = insertStatement(jobs, false);
    this.insertDeduplicated = insertStatement(jobs, true);
    this.holders = `SELECT id, dedupe_key FROM ${jobs} WHERE queue = $1 AND dedupe_key = ANY($2::text[])`;

    // What a failure's outcome depends on. Read without a lock: attempts and
    // backoff cannot change while the lease's token stays valid, and the
    // statement that applies the failure checks the token again.
    this.failing = `SELECT id, seq, state, leases, lease_expires_at, attempts, max_attempts, backoff, ${NOW} AS now
      FROM ${jobs} WHERE queue = $1 AND id = ANY($2::text[])`;
    this.leaseOf = `SELECT seq, state, leases, lease_expires_at, ${NOW} AS now FROM ${jobs} WHERE id = $1 AND queue = $2
      UNION ALL SELECT seq, state, leases, NULL, ${NOW} FROM ${done} WHERE id = $1 AND queue = $2`;
    this.extend = `UPDATE ${jobs} SET lease_expires_at = ${NOW} + coalesce($4::bigint, lease_ms), updated_at = ${NOW}
      WHERE ${VALID_LEASE} RETURNING *`;
    // $4 channel: the job is due again at once; $5 events channel, $6 origin.
    this.release = `UPDATE ${jobs} SET state = 'waiting', attempts = attempts - 1, updated_at = ${NOW},
        lease_expires_at = NULL
      WHERE ${VALID_LEASE} RETURNING id, ${NOW} AS now, pg_notify($4, queue)::text AS woken,
        pg_notify($5, ${eventPayload('$6', 'released', 'queue', 'id', NOW)})::text AS published`;
    // $5 events channel, $6 origin.
    this.progress = `UPDATE ${jobs} SET progress = $4, updated_at = ${NOW}
      WHERE ${VALID_LEASE} RETURNING attempts, ${NOW} AS now,
        pg_notify($5, ${eventPayload('$6', 'progress', 'queue', 'id', NOW, ['attempts'], '$4::text')})::text AS published`;
    this.byId = `SELECT *, lease_expires_at <= ${NOW} AS expired FROM ${jobs} WHERE id = $1 AND queue = $2
      UNION ALL SELECT *, false FROM ${done} WHERE id = $1 AND queue = $2`;
    // $4 events channel, $5 origin.
    this.cancel = `WITH moved AS (DELETE FROM ${jobs} WHERE id = ANY($1::text[]) AND queue = $2 AND state = ANY($3::text[])
        RETURNING *),
      cancelled AS (INSERT INTO ${done} (${COLUMN_LIST})
      SELECT ${copied('moved', { state: `'cancelled'`, updated_at: NOW, finished_at: NOW, lease_expires_at: 'NULL' })}
      FROM moved RETURNING id, ${NOW} AS now),
      published AS (${publishedEvents('$4', `SELECT ${batchedEventPayload('$5', 'cancelled', '$2', 'id', 'now')} FROM cancelled`)})
      SELECT id, now, (SELECT count(*) FROM published) AS published FROM cancelled`;
    // Dead or cancelled jobs back to waiting with fresh attempts, unless a
    // live job holds the dedupe key (the unique index guards the race).
    // $3 channel, $4 events channel, $5 origin.
    this.revive = `WITH moved AS (
        DELETE FROM ${done} d WHERE d.id = ANY($1::text[]) AND d.queue = $2 AND d.state IN ('dead', 'cancelled')
          AND (d.dedupe_key IS NULL
            OR NOT EXISTS (SELECT 1 FROM ${jobs} h WHERE h.queue = d.queue AND h.dedupe_key = d.dedupe_key))
        RETURNING *),
      revived AS (
        INSERT INTO ${jobs} (${COLUMN_LIST})
        SELECT ${copied('moved', { state: `'waiting'`, attempts: '0', run_at: NOW, result: 'NULL', progress: 'NULL', updated_at: NOW, finished_at: 'NULL' })}
        FROM moved RETURNING id),
      wake AS (SELECT pg_notify($3, $2) WHERE EXISTS (SELECT 1 FROM revived)),
      published AS (${publishedEvents('$4', `SELECT ${batchedEventPayload('$5', 'retried', '$2', 'id', NOW)} FROM revived`)})
      SELECT id, ${NOW} AS now, (SELECT count(*) FROM wake) AS woken, (SELECT count(*) FROM published) AS published
      FROM revived`;
    this.reviveBlocker = `SELECT d.state, h.id AS holder, d.dedupe_key FROM ${done} d
      LEFT JOIN ${jobs} h ON h.queue = d.queue AND h.dedupe_key = d.dedupe_key
      WHERE d.id = $1 AND d.queue = $2`;
    // Finished states and `live` (waiting and active) from the counters; the
    // active jobs through the expiry index. One statement: one snapshot.
    this.stats = `SELECT state, sum(count)::bigint AS count FROM ${this.counts} WHERE queue = $1 GROUP BY state
      UNION ALL SELECT 'active', count(*) FROM ${jobs} WHERE queue = $1 AND state = 'active'`;
    // Whether a lease of the queue has run out (a probe of the expiry index): reads settle them first.
    this.anyExpired = `SELECT EXISTS (SELECT 1 FROM ${jobs} WHERE queue = $1 AND state = 'active'
      AND lease_expires_at <= ${NOW}) AS expired`;
    const counted = (statement: string) =>
      `WITH removed AS (${statement} RETURNING 1) SELECT count(*) AS count FROM removed`;
    this.purge = counted(
      `DELETE FROM ${done} WHERE queue = $1 AND state = ANY($2::text[]) AND finished_at < $3::bigint`,
    );
    this.pruneAged = counted(`DELETE FROM ${done} WHERE id IN (
        SELECT id FROM ${done} WHERE queue = $1 AND state = $2 AND finished_at < ${NOW} - $3::bigint
        ORDER BY finished_at LIMIT $4)`);
    this.pruneOldest = counted(`DELETE FROM ${done} WHERE id IN (
        SELECT id FROM ${done} WHERE queue = $1 AND state = $2 ORDER BY finished_at LIMIT $3)`);
    this.eventDetails = `SELECT progress, errors FROM ${jobs} WHERE id = $1 AND queue = $2
      UNION ALL SELECT progress, errors FROM ${done} WHERE id = $1 AND queue = $2`;
    this.count = `SELECT coalesce(sum(count), 0)::bigint AS count FROM ${this.counts} WHERE queue = $1 AND state = $2`;
  }

  /**
   * One statement that settles and claims, with only the parts asked for:
   * expired leases reclaimed (through the expiry index, skipping rows
   * others hold), completions and failures applied (each matches only a
   * valid lease), then up to `count` ready jobs claimed with FOR UPDATE SKIP
   * LOCKED. Every part works on other rows, so none needs to see another's
   * change. Returns one row per claimed job (at least one row); one of them
   * (the only one when none was claimed) carries the summary of what was
   * settled, the others have NULL summary columns.
   */
  settle(input: SettleStatementInput): { readonly text: string; readonly values: unknown[] } {
    const { jobs, done } = this;
    const values: unknown[] = [input.queue];
    const bind = (value: unknown, type: string) => {
      values.push(value);
      return `$${values.length}::${type}`;
    };
    const parts: string[] = [];
    const summaries: string[] = [];
    // The events, in the order the caller emits them locally: completed, failed and dead, expired, started.
    // Bound at its first use: a parameter the text never uses has no type, which PostgreSQL refuses.
    let originParameter: string | undefined;
    const origin = () => {
      originParameter ??= bind(input.origin, 'text');
      return originParameter;
    };
    const published: string[] = [];
    let expiredEvents: string | undefined;
    if (input.reclaim) {
      const expiredError = `jsonb_build_object('attempt', j.attempts, 'message', 'lease expired',
        'name', 'LEASE_EXPIRED', 'at', ${NOW})`;
      parts.push(
        `expired AS (
          SELECT id FROM ${jobs}
          WHERE queue = $1 AND state = 'active' AND lease_expires_at <= ${NOW} AND id <> ALL(${bind(input.settling, 'text[]')})
          ORDER BY lease_expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED)`,
        `expired_dead AS (
          DELETE FROM ${jobs} j USING expired e WHERE j.id = e.id AND j.attempts >= j.max_attempts RETURNING j.*)`,
        `expired_buried AS (
          INSERT INTO ${done} (${COLUMN_LIST})
          SELECT ${copied('j', { state: `'dead'`, errors: `j.${appendError(expiredError)}`, updated_at: NOW, finished_at: NOW, lease_expires_at: 'NULL' })}
          FROM expired_dead j RETURNING id, state, attempts)`,
        `expired_waiting AS (
          UPDATE ${jobs} j SET state = 'waiting', errors = j.${appendError(expiredError)}, updated_at = ${NOW},
            lease_expires_at = NULL
          FROM expired e WHERE j.id = e.id AND j.attempts < j.max_attempts
          RETURNING j.id, j.state, j.attempts)`,
      );
      summaries.push(`(SELECT coalesce(json_agg(json_build_array(x.id, x.state, x.attempts)), '[]') FROM (
          SELECT * FROM expired_buried UNION ALL SELECT * FROM expired_waiting) x) AS summary_expired`);
      const leaseExpired = `json_build_object('attempt', x.attempts, 'message', 'lease expired',
        'name', 'LEASE_EXPIRED', 'at', ${NOW})`;
      // Each lease `expired`, then `dead` when it was the last attempt (as JobEventHub.emitExpired emits them).
      expiredEvents = `SELECT v.p FROM (SELECT * FROM expired_buried UNION ALL SELECT * FROM expired_waiting) x
          CROSS JOIN LATERAL (VALUES (${batchedEventPayload(origin(), 'expired', '$1', 'x.id', NOW, ['x.attempts'])}),
            (CASE WHEN x.state = 'dead' THEN ${batchedEventPayload(origin(), 'dead', '$1', 'x.id', NOW, ['x.attempts', leaseExpired])} END)) v(p)
          WHERE v.p IS NOT NULL`;
    }
    if (input.completions.ids.length > 0) {
      const { ids, tokens, results } = input.completions;
      const idList = bind(ids, 'text[]');
      parts.push(
        `completing AS (SELECT * FROM unnest(${idList}, ${bind(tokens, 'text[]')}, ${bind(results, 'text[]')})
          AS c(id, token, result))`,
        `completed_rows AS (
          DELETE FROM ${jobs} j USING completing c
          WHERE j.id = ANY(${idList}) AND j.id = c.id AND j.queue = $1 AND ${validLease('j', 'c')}
          RETURNING j.*, c.result AS new_result)`,
        `completed AS (
          INSERT INTO ${done} (${COLUMN_LIST})
          SELECT ${copied('j', { state: `'completed'`, result: 'j.new_result', updated_at: NOW, finished_at: NOW, lease_expires_at: 'NULL' })}
          FROM completed_rows j RETURNING id, attempts)`,
      );
      summaries.push(
        `(SELECT coalesce(json_agg(json_build_array(x.id, x.attempts)), '[]') FROM completed x) AS summary_completed`,
      );
      published.push(
        `SELECT ${batchedEventPayload(origin(), 'completed', '$1', 'id', NOW, ['attempts'])} FROM completed`,
      );
    }
    if (input.retries.ids.length > 0) {
      const { ids, tokens, errors, runAts } = input.retries;
      const idList = bind(ids, 'text[]');
      parts.push(
        `retrying AS (SELECT * FROM unnest(${idList}, ${bind(tokens, 'text[]')}, ${bind(errors, 'text[]')},
          ${bind(runAts, 'bigint[]')}) AS r(id, token, error, run_at))`,
        `retried AS (
          UPDATE ${jobs} j SET state = 'waiting', run_at = r.run_at, errors = j.${appendError('r.error::jsonb')},
            updated_at = ${NOW}, lease_expires_at = NULL
          FROM retrying r WHERE j.id = ANY(${idList}) AND j.id = r.id AND j.queue = $1 AND ${validLease('j', 'r')}
          RETURNING j.id, j.attempts, j.run_at, r.error)`,
      );
      summaries.push(`(SELECT coalesce(json_agg(x.id), '[]') FROM retried x) AS summary_retried`);
      published.push(
        `SELECT ${batchedEventPayload(origin(), 'failed', '$1', 'id', NOW, ['attempts', 'run_at'], 'error')} FROM retried`,
      );
    }
    if (input.burials.ids.length > 0) {
      const { ids, tokens, errors } = input.burials;
      const idList = bind(ids, 'text[]');
      parts.push(
        `burying AS (SELECT * FROM unnest(${idList}, ${bind(tokens, 'text[]')}, ${bind(errors, 'text[]')})
          AS b(id, token, error))`,
        `buried_rows AS (
          DELETE FROM ${jobs} j USING burying b WHERE j.id = ANY(${idList}) AND j.id = b.id AND j.queue = $1 AND ${validLease('j', 'b')}
          RETURNING j.*, b.error AS new_error)`,
        `buried AS (
          INSERT INTO ${done} (${COLUMN_LIST})
          SELECT ${copied('j', { state: `'dead'`, errors: `j.${appendError('j.new_error::jsonb')}`, updated_at: NOW, finished_at: NOW, lease_expires_at: 'NULL' })}
          FROM buried_rows j RETURNING id)`,
      );
      summaries.push(`(SELECT coalesce(json_agg(x.id), '[]') FROM buried x) AS summary_buried`);
      // From the deleted rows, which carry the error as given (and are the rows `buried` inserted, in its order).
      published.push(
        `SELECT ${batchedEventPayload(origin(), 'dead', '$1', 'id', NOW, ['attempts'], 'new_error')} FROM buried_rows`,
      );
    }
    if (expiredEvents !== undefined) published.push(expiredEvents);
    if (input.count > 0) {
      parts.push(
        `picked AS (
          SELECT id FROM ${jobs} WHERE queue = $1 AND state = 'waiting' AND run_at <= ${NOW}
          ORDER BY priority DESC, run_at, seq LIMIT ${bind(input.count, 'integer')} FOR UPDATE SKIP LOCKED)`,
        `claimed AS (
          UPDATE ${jobs} j SET state = 'active', attempts = j.attempts + 1, leases = j.leases + 1,
            lease_expires_at = ${NOW} + coalesce(${bind(input.leaseMs, 'bigint')}, j.lease_ms), updated_at = ${NOW}
          WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
          RETURNING j.*)`,
      );
      published.push(`SELECT ${batchedEventPayload(origin(), 'started', '$1', 'id', 'updated_at', ['attempts'])} FROM claimed
          ORDER BY priority DESC, run_at, seq`);
    }
    if (published.length > 0) {
      const events = bind(input.eventChannel, 'text');
      const union = published.map((branch) => `(${branch})`).join('\n          UNION ALL ');
      parts.push(`published AS (${publishedEvents(events, union)})`);
      summaries.push('(SELECT count(*) FROM published) AS summary_published');
    }
    const summary = `summary AS (SELECT ${[`${NOW} AS summary_now`, '$1::text AS summary_queue', ...summaries].join(', ')})`;
    // The summary rides on one row only (the first claimed job's, or a row of
    // its own when none was claimed): repeated on every row, its lists would
    // grow the answer with the square of the batch.
    const text =
      input.count > 0
        ? `WITH ${[...parts, summary].join(',\n')},
          numbered AS (SELECT c.*, row_number() OVER () AS claimed_row FROM claimed c)
          SELECT s.*, n.* FROM (SELECT) AS one LEFT JOIN numbered n ON true
            LEFT JOIN summary s ON n.claimed_row IS NULL OR n.claimed_row = 1`
        : `WITH ${[...parts, summary].join(',\n')} SELECT s.* FROM summary s`;
    return { text, values };
  }

  /** One batch of a state's jobs in enqueue order after a position: a range of the listing index. */
  batch(finished: boolean, order: 'oldest' | 'newest', after: boolean, lock: boolean): string {
    const direction = order === 'oldest' ? 'ASC' : 'DESC';
    const range = after ? `AND (created_at, id) ${order === 'oldest' ? '>' : '<'} ($3::bigint, $4::text)` : '';
    const limit = after ? '$5' : '$3';
    return `SELECT * FROM ${finished ? this.done : this.jobs} WHERE queue = $1 AND state = $2 ${range}
      ORDER BY created_at ${direction}, id ${direction} LIMIT ${limit}${lock ? ' FOR UPDATE' : ''}`;
  }
}

/** What {@link PgQueueSql.settle} is asked to do (arrays side by side, one entry per job). */
export interface SettleStatementInput {
  readonly queue: string;
  /** Settle expired leases first. */
  readonly reclaim: boolean;
  /** Jobs being settled: the reclaim leaves them to their settlement. */
  readonly settling: readonly string[];
  readonly completions: {
    readonly ids: readonly string[];
    readonly tokens: readonly string[];
    readonly results: readonly (string | null)[];
  };
  readonly retries: {
    readonly ids: readonly string[];
    readonly tokens: readonly string[];
    readonly errors: readonly string[];
    readonly runAts: readonly number[];
  };
  readonly burials: {
    readonly ids: readonly string[];
    readonly tokens: readonly string[];
    readonly errors: readonly string[];
  };
  /** Jobs to claim (0: none). */
  readonly count: number;
  /** Lease duration of the claimed jobs; `null`: each job's own. */
  readonly leaseMs: number | null;
  /** Where the statement publishes its events, tagged with `origin`. */
  readonly eventChannel: string;
  readonly origin: string;
}
