// The program `pnpm check:installs` runs in each scratch project: plain ESM
// for plain `node`, as a user of core and one adapter would write it.

/** What one adapter's program needs beyond the common part. */
export interface ProgramParts {
  /** Imports at the top of the module (the adapter's own, for the bundled variant). */
  readonly imports: string;
  /** An expression for `createBackend`'s options, or `undefined` for none. */
  readonly backendOptions: string | undefined;
  /** Statements run before the backend is made (with `url` in scope). */
  readonly setup: string;
  /** Statements run in `finally` before `backend.close()` (with `backend` in scope). */
  readonly cleanup: string;
}

/**
 * A program that gets a backend from `BERTH_CHECK_URL` with `createBackend`,
 * writes and reads one document, runs one job through a worker and prints
 * `OK`. A backend without queues (`capabilities.queue.level` `none`: the
 * document-backed S3 adapter) takes its queue from `memory:`, which that
 * adapter depends on, the way `BERTH_QUEUE_URL` would.
 */
export function programSource(parts: ProgramParts): string {
  const options = parts.backendOptions === undefined ? '' : `, ${parts.backendOptions}`;
  return `import { createBackend, isBerthError } from '@berth/core';
${parts.imports}
const url = process.env.BERTH_CHECK_URL;
if (url === undefined) throw new Error('BERTH_CHECK_URL is not set');
${parts.setup}
const backend = await createBackend(url${options});
try {
  const queueBackend =
    backend.capabilities.queue.level === 'none' ? await createBackend('memory:'${options}) : backend;

  const players = backend.repository('install_check_players', {
    indexes: [{ field: 'name', type: 'string', unique: true }],
  });
  const ada = await players.insert({ name: 'Ada', level: 1 });
  await players.update(ada.id, { $inc: { level: 1 } });
  const read = await players.get(ada.id);
  if (read?.level !== 2) throw new Error(\`read back \${JSON.stringify(read)}, expected level 2\`);
  const duplicate = await players.insert({ name: 'Ada', level: 1 }).then(
    () => 'inserted',
    (error) => (isBerthError(error, 'ALREADY_EXISTS') ? 'refused' : error),
  );
  if (duplicate !== 'refused') throw new Error(\`a duplicate unique name was not refused: \${duplicate}\`);

  const mails = queueBackend.queue('install_check_mails');
  const { id } = await mails.enqueue({ to: 'ada@example.com' });
  let handled;
  let timer;
  const done = new Promise((resolve) => {
    handled = resolve;
  });
  const worker = mails.work(async (job) => {
    handled(job.payload.to);
    return { sent: true };
  }, { pollIntervalMs: 50 });
  const to = await Promise.race([
    done,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the worker did not run the job within 20 s')), 20_000);
    }),
  ]);
  clearTimeout(timer);
  await worker.close();
  const job = await mails.get(id);
  if (to !== 'ada@example.com' || job?.state !== 'completed' || job.result?.sent !== true) {
    throw new Error(\`the job ended as \${JSON.stringify(job)}\`);
  }
  if (queueBackend !== backend) await queueBackend.close();
} finally {
${parts.cleanup}
  await backend.close();
}
console.log('OK');
`;
}
