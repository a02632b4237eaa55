import type { Capabilities, DocumentValue, JobQueue, QueueOptions, TransactionalQueue } from '@berth/core';
import { HandOffNotifier, normalizeRetention } from '@berth/core/adapter';
import type { PgBackendContext, PgTransactionContext } from '../pg-context.js';
import { PostgresJobQueue } from './pg-job-queue.js';
import { PgQueueEvents } from './pg-queue-events.js';
import { channelOf, PgQueueListener } from './pg-queue-listener.js';
import { PgQueueSql } from './pg-queue-sql.js';

/**
 * What PostgreSQL's job queue offers: correct for workers on many machines,
 * enqueue inside transactions, LISTEN/NOTIFY wake-ups. Events are `global`:
 * every statement that changes a job publishes its event with NOTIFY (sent
 * at commit, never on rollback), and a backend with subscribers listens.
 */
export const QUEUE_CAPABILITIES: Capabilities['queue'] = {
  level: 'distributed',
  transactionalEnqueue: true,
  durable: true,
  notifications: true,
  events: 'global',
};

/** The job queues of one backend, and what they share: the statements, the listening connection, events. */
export class PgQueues {
  private readonly sql: PgQueueSql;
  private readonly channel: string;
  private readonly listener: PgQueueListener;
  private readonly events: PgQueueEvents;
  private readonly notifiers = new Map<string, HandOffNotifier>();
  /** The wake-up channel's handler: a notification names the queue with a job due; after an outage, wake them all. */
  private readonly wakeUps = {
    notified: (queue: string) => this.notifiers.get(queue)?.woken(),
    resumed: () => {
      for (const notifier of this.notifiers.values()) notifier.woken();
    },
  };

  constructor(readonly context: PgBackendContext) {
    this.sql = new PgQueueSql(context.quotedSchema);
    this.channel = channelOf(context.schema);
    this.listener = new PgQueueListener(context.session);
    this.events = new PgQueueEvents(context, this.listener, this.sql.eventDetails);
  }

  queue<T = DocumentValue>(name: string, options?: QueueOptions): JobQueue<T> {
    return this.jobQueue<T>(name, options);
  }

  /** A queue of an open transaction: its enqueues join the transaction, and wake workers once it commits. */
  transactional<T = DocumentValue>(name: string, transaction: PgTransactionContext): TransactionalQueue<T> {
    return this.jobQueue<T>(name, undefined).transactional(transaction);
  }

  private jobQueue<T>(name: string, options: QueueOptions | undefined): PostgresJobQueue<T> {
    return new PostgresJobQueue<T>(name, {
      backend: this.context,
      sql: this.sql,
      channel: this.channel,
      events: this.events.hub(name),
      publish: this.events,
      notifier: this.notifier(name),
      retention: normalizeRetention(options?.retention),
      maxPayloadBytes: this.context.maxDocumentBytes,
    });
  }

  private notifier(name: string): HandOffNotifier {
    let notifier = this.notifiers.get(name);
    if (notifier === undefined) {
      // The listening connection opens with the first worker of the backend, not before.
      notifier = new HandOffNotifier(() => this.listener.listen(this.channel, this.wakeUps));
      this.notifiers.set(name, notifier);
    }
    return notifier;
  }

  /**
   * The queues holding jobs (from the counters, which every insert and
   * delete of a job keeps, so no job table is scanned) or schedules, by
   * code point (the queue columns are `COLLATE "C"`).
   */
  async names(): Promise<string[]> {
    const rows = await this.context.session.query<{ queue: string }>(
      `SELECT queue FROM ${this.sql.counts} GROUP BY queue HAVING sum(count) > 0
       UNION SELECT DISTINCT queue FROM ${this.sql.schedules} ORDER BY queue`,
    );
    return rows.map((row) => row.queue);
  }

  /** Nothing is held back: every acknowledgement is written by the call that makes it. */
  async flush(): Promise<void> {}

  /** Stops listening and the wake-up timers; the backend ends the pool afterwards. */
  async close(): Promise<void> {
    for (const notifier of this.notifiers.values()) notifier.close();
    await this.listener.close();
  }
}
