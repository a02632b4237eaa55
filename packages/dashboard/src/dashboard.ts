import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  BerthLogger,
  Collector,
  JobEvent,
  JobQueue,
  JobState,
  QueueBackend,
  RepositoryBackend,
} from '@berth/core';
import { consoleLogger, isBerthError, JOB_STATE_AFTER_EVENT, ValidationError } from '@berth/core';
import { JOB_STATES } from '@berth/core/adapter';
import { type Authorize, Guard, type Refusal } from './guard.js';
import { html } from './html.js';
import {
  type BodyResponse,
  type DashboardRequest,
  type DashboardResponse,
  fromFetchRequest,
  fromNodeRequest,
  type StreamResponse,
  toFetchResponse,
  toNodeResponse,
} from './http.js';
import { collectionPage, collectionsPage, operationsPage } from './pages/data-pages.js';
import { href, type PageContext, page } from './pages/layout.js';
import { confirmPage, FINISHED_STATES, jobPage, PURGE_AGES, queuePage, queuesPage } from './pages/queue-pages.js';

/**
 * What {@link createDashboard} takes.
 *
 * ### Examples
 * ```ts
 * import { createBackend } from '@berth/core';
 * import { createDashboard, type DashboardOptions } from '@berth/dashboard';
 *
 * const backend = await createBackend('sqlite:./app.db');
 * const options: DashboardOptions = { backend, token: process.env.BERTH_DASHBOARD_TOKEN };
 * const dashboard = createDashboard(options);
 * ```
 */
export interface DashboardOptions {
  /** The backend whose collections (and queues, when it has them) the dashboard shows. */
  readonly backend: RepositoryBackend | QueueBackend;
  /** Queues from another backend than `backend` (say, documents in S3 and jobs in Redis). */
  readonly queueBackend?: QueueBackend | undefined;
  /** Where the dashboard is mounted: `''` (default) or a path like `/admin/berth`. */
  readonly basePath?: string | undefined;
  /**
   * The token that allows retry and cancel: sent as `Authorization: Bearer
   * <token>`, or given once to `/login` in a browser (which then keeps a
   * session cookie). Without a token and without `authorize`, the dashboard
   * is read-only.
   */
  readonly token?: string | undefined;
  /** The application's own check for writes (its session, its roles); `true` allows. */
  readonly authorize?: Authorize | undefined;
  /** Shows everything and changes nothing, whoever asks. */
  readonly readOnly?: boolean | undefined;
  /** The collector of an instrumented backend: the operations page shows its report. */
  readonly collector?: Collector | undefined;
  /** The name at the top of every page (default `Berth`). */
  readonly title?: string | undefined;
  /** Hears about requests that failed unexpectedly (default `console`). */
  readonly logger?: BerthLogger | undefined;
}

/**
 * The dashboard, as a Node request handler and as a fetch handler.
 *
 * ### Examples
 * ```ts
 * import { createServer } from 'node:http';
 * import { createBackend } from '@berth/core';
 * import { createDashboard } from '@berth/dashboard';
 *
 * const dashboard = createDashboard({ backend: await createBackend('sqlite:./app.db'), readOnly: true });
 * createServer(dashboard.handle).listen(4000, '127.0.0.1');
 * // Fetch-style servers (Hono, Bun, Deno): app.all('/berth/*', (c) => dashboard.fetch(c.req.raw))
 * ```
 */
export interface Dashboard {
  /**
   * A Node `http` handler (`createServer(dashboard.handle)`, Express
   * `app.use(dashboard.handle)`). A request outside `basePath` goes to
   * `next` when given, and is answered 404 otherwise.
   */
  readonly handle: (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) => void;
  /** A fetch-style handler: `Request` in, `Response` out (404 outside `basePath`). */
  readonly fetch: (request: Request) => Promise<Response>;
  /** Ends every live stream (server-sent events) the dashboard is serving. */
  close(): void;
}

const ASSETS: Readonly<Record<string, { readonly type: string; readonly file: string }>> = {
  '/assets/dashboard.css': { type: 'text/css; charset=utf-8', file: 'dashboard.css' },
  '/assets/dashboard.js': { type: 'text/javascript; charset=utf-8', file: 'dashboard.js' },
};

/** What a `done` query parameter may announce: fixed texts, so no link can make the page say anything else. */
const NOTICES: Readonly<Record<string, string>> = {
  retried: 'The job was put back to waiting.',
  cancelled: 'The job was cancelled.',
  'retried-dead': 'The dead jobs were put back to waiting.',
  purged: 'The finished jobs were removed.',
  signed_in: 'Signed in: actions are allowed in this browser.',
};

const REFUSALS: Readonly<Record<Refusal, string>> = {
  'read-only': 'This dashboard is read-only.',
  'no-credentials':
    'This dashboard has no token and no authorize hook, so it changes nothing: start it with a token (berth dashboard prints one) or pass authorize.',
  unauthorized: 'Sign in with the dashboard token first (open the link berth dashboard printed, or /login).',
  csrf: 'The form did not come from this dashboard (or the dashboard restarted since the page was loaded): reload the page and try again.',
};

/** Queues one live stream may follow. */
const MAX_LIVE_QUEUES = 100;

/** How often a live stream sends the counts of a queue that is changing, at most. */
const STATS_INTERVAL_MS = 250;

/** A comment line that keeps idle connections (and proxies) from timing out. */
const HEARTBEAT_MS = 15_000;

function normalizeBasePath(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) {
    throw new ValidationError(
      `basePath must be empty or a path like /admin/berth (letters, digits, . _ ~ -), got ${JSON.stringify(basePath)}`,
      'basePath',
    );
  }
  return basePath;
}

function htmlResponse(status: number, body: string, headers: Record<string, string> = {}): BodyResponse {
  return { status, headers: { 'content-type': 'text/html; charset=utf-8', ...headers }, body };
}

function redirect(location: string, headers: Record<string, string> = {}): BodyResponse {
  return { status: 303, headers: { location, ...headers }, body: '' };
}

/** The job event a live stream sends: which job, what happened, the state it is in now. */
function liveEvent(event: JobEvent): Record<string, unknown> {
  return {
    queue: event.queue,
    jobId: event.jobId,
    type: event.type,
    state: JOB_STATE_AFTER_EVENT[event.type],
    at: event.at.toISOString(),
  };
}

/**
 * Creates the dashboard for a backend: queues (counts, rates, schedules,
 * jobs with retry and cancel), collections (counts, indexes, a document
 * browser with a filter box) and, given a collector, operation timings.
 * Server-rendered HTML with one small script for live updates (server-sent
 * events from the queues' events); write actions need the token or
 * `authorize`, a CSRF token and a confirmation step.
 *
 * ### Examples
 * ```ts
 * import { createServer } from 'node:http';
 * import { createBackend } from '@berth/core';
 * import { createDashboard } from '@berth/dashboard';
 *
 * const backend = await createBackend('sqlite:./app.db');
 * const dashboard = createDashboard({ backend, token: 'a long random string' });
 * createServer(dashboard.handle).listen(4000, '127.0.0.1');
 * ```
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const basePath = normalizeBasePath(options.basePath);
  const backend = options.backend;
  const queueBackend: QueueBackend | undefined =
    options.queueBackend ??
    ('queue' in backend && backend.capabilities.queue.level !== 'none' ? (backend as QueueBackend) : undefined);
  const repositories: RepositoryBackend | undefined = 'repository' in backend ? backend : undefined;
  const guard = new Guard({
    readOnly: options.readOnly === true,
    token: options.token === '' ? undefined : options.token,
    authorize: options.authorize,
    basePath,
  });
  const assets = new Map(
    Object.entries(ASSETS).map(([path, { type, file }]) => [
      path,
      { type, body: readFileSync(new URL(`./assets/${file}`, import.meta.url), 'utf8') },
    ]),
  );
  const streams = new AbortController();
  const title = options.title ?? 'Berth';
  const logger = options.logger ?? consoleLogger;

  async function context(request: DashboardRequest): Promise<PageContext> {
    return {
      basePath,
      title,
      mayWrite: await guard.mayWrite(request),
      csrfToken: guard.csrfToken,
      hasQueues: queueBackend !== undefined,
      hasCollections: repositories !== undefined,
      hasOperations: options.collector !== undefined,
    };
  }

  function notFound(pageContext: PageContext, what: string): BodyResponse {
    return htmlResponse(404, page(pageContext, { heading: 'Not found', section: '' }, html`<p>${what}</p>`));
  }

  function refused(pageContext: PageContext, refusal: Refusal): BodyResponse {
    const status = refusal === 'unauthorized' ? 401 : 403;
    return htmlResponse(
      status,
      page(pageContext, { heading: 'Not allowed', section: '' }, html`<p>${REFUSALS[refusal]}</p>`),
    );
  }

  /** The queue named in the path, or `undefined` when the name is not a queue name. */
  function queueNamed(name: string): JobQueue | undefined {
    if (queueBackend === undefined) return undefined;
    try {
      return queueBackend.queue(name);
    } catch (error) {
      if (isBerthError(error, 'VALIDATION')) return undefined;
      throw error;
    }
  }

  function liveStream(request: DashboardRequest): DashboardResponse {
    const names = [...new Set(request.query.getAll('queue'))];
    const queues = names.map(queueNamed);
    if (
      queueBackend === undefined ||
      names.length === 0 ||
      names.length > MAX_LIVE_QUEUES ||
      queues.includes(undefined)
    ) {
      return { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'bad queue list' };
    }
    const stream: StreamResponse = {
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' },
      async stream(write, signal) {
        const stop = new AbortController();
        const end = () => stop.abort();
        signal.addEventListener('abort', end, { once: true });
        streams.signal.addEventListener('abort', end, { once: true });
        const pending = new Set<JobQueue>();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const sendStats = async () => {
          timer = undefined;
          const due = [...pending];
          pending.clear();
          for (const queue of due) {
            try {
              const stats = await queue.stats();
              if (!stop.signal.aborted)
                write(`event: stats\ndata: ${JSON.stringify({ queue: queue.name, stats })}\n\n`);
            } catch {
              // A failed count is sent with the next change.
            }
          }
        };
        const unsubscribes = (queues as JobQueue[]).map((queue) =>
          queue.subscribe((event) => {
            if (stop.signal.aborted) return;
            write(`event: job\ndata: ${JSON.stringify(liveEvent(event))}\n\n`);
            pending.add(queue);
            timer ??= setTimeout(() => void sendStats(), STATS_INTERVAL_MS);
          }),
        );
        const heartbeat = setInterval(() => write(': still here\n\n'), HEARTBEAT_MS);
        write('retry: 2000\n\n');
        try {
          await new Promise<void>((resolve) => {
            if (stop.signal.aborted) resolve();
            else stop.signal.addEventListener('abort', () => resolve(), { once: true });
          });
        } finally {
          clearInterval(heartbeat);
          if (timer !== undefined) clearTimeout(timer);
          for (const unsubscribe of unsubscribes) unsubscribe();
          signal.removeEventListener('abort', end);
          streams.signal.removeEventListener('abort', end);
        }
      },
    };
    return stream;
  }

  /** The action a confirmation page posts, or `undefined` when the path names none. */
  function actionOf(
    segments: readonly string[],
  ): { readonly queue: JobQueue; readonly kind: string; readonly jobId?: string | undefined } | undefined {
    if (segments[0] !== 'queues') return undefined;
    const queue = segments[1] === undefined ? undefined : queueNamed(segments[1]);
    if (queue === undefined) return undefined;
    if (segments.length === 3 && segments[2] === 'retry-dead') return { queue, kind: 'retry-dead' };
    if (segments.length === 3 && segments[2] === 'purge') return { queue, kind: 'purge' };
    if (segments.length === 5 && segments[2] === 'jobs' && (segments[4] === 'retry' || segments[4] === 'cancel')) {
      return { queue, kind: segments[4], jobId: segments[3] };
    }
    return undefined;
  }

  /** The state and age a purge names in its query, or `undefined` when either is not one of the choices. */
  function purgeOf(request: DashboardRequest): { readonly state: JobState; readonly age: string } | undefined {
    const state = request.query.get('state') ?? '';
    const age = request.query.get('older') ?? '';
    if (!FINISHED_STATES.includes(state as JobState) || !Object.hasOwn(PURGE_AGES, age)) return undefined;
    return { state: state as JobState, age };
  }

  async function act(
    request: DashboardRequest,
    pageContext: PageContext,
    action: NonNullable<ReturnType<typeof actionOf>>,
  ): Promise<DashboardResponse> {
    const body = await request.readBody();
    if (body === undefined)
      return { status: 413, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'request body too large' };
    const refusal = await guard.checkWrite(request, new URLSearchParams(body));
    if (refusal !== undefined) return refused(pageContext, refusal);
    const { queue, kind, jobId } = action;
    if (kind === 'purge') {
      const purge = purgeOf(request);
      if (purge === undefined)
        return notFound(pageContext, 'A purge names a finished state and one of the ages offered.');
      const finishedBefore = new Date(Date.now() - (PURGE_AGES[purge.age]?.ms ?? 0));
      await queue.purge({ finishedBefore, states: [purge.state] });
      return redirect(href(pageContext, ['queues', queue.name], { state: purge.state, done: 'purged' }));
    }
    if (kind === 'retry-dead') {
      let cursor: string | undefined;
      do cursor = (await queue.retryJobs({ cursor })).cursor;
      while (cursor !== undefined);
      return redirect(href(pageContext, ['queues', queue.name], { state: 'waiting', done: 'retried-dead' }));
    }
    const id = jobId as string;
    const changed = kind === 'retry' ? await queue.retry(id) : await queue.cancel(id);
    if (!changed) {
      const job = await queue.get(id);
      if (job === null) return notFound(pageContext, `Queue ${queue.name} has no job ${id}.`);
      const why =
        kind === 'retry'
          ? `Job ${id} is ${job.state}: only dead and cancelled jobs can be retried.`
          : `Job ${id} is ${job.state}: only waiting and active jobs can be cancelled.`;
      return htmlResponse(
        409,
        page(
          pageContext,
          { heading: 'Not done', section: 'queues' },
          html`<p class="problem">${why}</p><p><a href="${href(pageContext, ['queues', queue.name, 'jobs', id])}">Back to the job</a></p>`,
        ),
      );
    }
    return redirect(
      href(pageContext, ['queues', queue.name, 'jobs', id], { done: kind === 'retry' ? 'retried' : 'cancelled' }),
    );
  }

  async function confirm(
    request: DashboardRequest,
    pageContext: PageContext,
    action: NonNullable<ReturnType<typeof actionOf>>,
  ): Promise<DashboardResponse> {
    if (!pageContext.mayWrite) return refused(pageContext, guard.writable ? 'unauthorized' : 'no-credentials');
    const { queue, kind, jobId } = action;
    if (kind === 'purge') {
      const purge = purgeOf(request);
      if (purge === undefined)
        return notFound(pageContext, 'A purge names a finished state and one of the ages offered.');
      return htmlResponse(
        200,
        confirmPage(pageContext, {
          heading: 'Purge jobs',
          question: `Remove the ${purge.state} jobs of ${queue.name} that finished more than ${PURGE_AGES[purge.age]?.label} ago? They cannot be brought back.`,
          action: href(pageContext, ['queues', queue.name, 'purge'], { state: purge.state, older: purge.age }),
          back: href(pageContext, ['queues', queue.name], { state: purge.state }),
        }),
      );
    }
    const target = href(
      pageContext,
      kind === 'retry-dead'
        ? ['queues', queue.name, 'retry-dead']
        : ['queues', queue.name, 'jobs', jobId as string, kind],
    );
    if (kind === 'retry-dead') {
      const { dead } = await queue.stats();
      return htmlResponse(
        200,
        confirmPage(pageContext, {
          heading: 'Retry dead jobs',
          question: `Put all ${dead} dead jobs of ${queue.name} back to waiting?`,
          action: target,
          back: href(pageContext, ['queues', queue.name], { state: 'dead' }),
        }),
      );
    }
    const job = await queue.get(jobId as string);
    if (job === null) return notFound(pageContext, `Queue ${queue.name} has no job ${jobId}.`);
    const verb = kind === 'retry' ? 'Retry job' : 'Cancel job';
    const question =
      kind === 'retry' ? `Put ${job.state} job ${job.id} back to waiting?` : `Cancel ${job.state} job ${job.id}?`;
    return htmlResponse(
      200,
      confirmPage(pageContext, {
        heading: verb,
        question,
        action: target,
        back: href(pageContext, ['queues', queue.name, 'jobs', job.id]),
      }),
    );
  }

  async function route(request: DashboardRequest): Promise<DashboardResponse> {
    const asset = assets.get(request.path);
    if (asset !== undefined && request.method === 'GET') {
      return { status: 200, headers: { 'content-type': asset.type }, body: asset.body };
    }
    let segments: string[];
    try {
      segments = request.path
        .split('/')
        .filter((segment) => segment !== '')
        .map(decodeURIComponent);
    } catch {
      return { status: 400, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'bad path' };
    }
    const pageContext = await context(request);
    const notice = NOTICES[request.query.get('done') ?? ''];
    if (request.method === 'POST') {
      if (segments.length === 1 && segments[0] === 'login') return login(request, pageContext);
      const action = actionOf(segments);
      return action === undefined ? notFound(pageContext, 'No such action.') : act(request, pageContext, action);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return {
        status: 405,
        headers: { allow: 'GET, HEAD, POST', 'content-type': 'text/plain; charset=utf-8' },
        body: 'method not allowed',
      };
    }
    const [first, second, third, fourth, fifth] = segments;
    if (first === undefined) {
      if (queueBackend !== undefined) return htmlResponse(200, await queuesPage(pageContext, queueBackend, notice));
      return redirect(href(pageContext, ['collections']));
    }
    if (first === 'login' && second === undefined) return loginPage(request, pageContext);
    if (first === 'events' && second === undefined) return liveStream(request);
    if (first === 'operations' && second === undefined && options.collector !== undefined) {
      return htmlResponse(200, operationsPage(pageContext, options.collector));
    }
    if (first === 'collections' && repositories !== undefined) {
      if (second === undefined) return htmlResponse(200, await collectionsPage(pageContext, repositories));
      if (third === undefined) {
        const known = (await repositories.collections()).some(({ name }) => name === second);
        if (!known) return notFound(pageContext, `There is no collection ${second}.`);
        const filter = request.query.get('filter') ?? '';
        const cursor = request.query.get('cursor') ?? undefined;
        return htmlResponse(200, await collectionPage(pageContext, repositories, second, filter, cursor));
      }
    }
    if (first === 'queues' && second !== undefined) {
      const action = actionOf(segments);
      if (action !== undefined) return confirm(request, pageContext, action);
      const queue = queueNamed(second);
      if (queue === undefined) return notFound(pageContext, 'That is not a queue name.');
      if (third === undefined) {
        const state = request.query.get('state') ?? 'dead';
        if (!(JOB_STATES as readonly string[]).includes(state)) {
          return notFound(pageContext, `A job state is one of ${JOB_STATES.join(', ')}.`);
        }
        try {
          const cursor = request.query.get('cursor') ?? undefined;
          return htmlResponse(200, await queuePage(pageContext, queue, state as JobState, cursor, notice));
        } catch (error) {
          if (isBerthError(error, 'VALIDATION'))
            return notFound(pageContext, 'That page of jobs does not exist (a bad cursor).');
          throw error;
        }
      }
      if (third === 'jobs' && fourth !== undefined && fifth === undefined) {
        const job = await queue.get(fourth);
        return job === null
          ? notFound(pageContext, `Queue ${queue.name} has no job ${fourth}.`)
          : htmlResponse(200, jobPage(pageContext, job, notice));
      }
    }
    return notFound(pageContext, 'There is no such page.');
  }

  function loginPage(request: DashboardRequest, pageContext: PageContext): DashboardResponse {
    const token = request.query.get('token');
    if (token !== null && guard.tokenMatches(token)) {
      // The token leaves the address bar at once; the browser keeps a cookie that is not the token.
      return redirect(href(pageContext, [], { done: 'signed_in' }), { 'set-cookie': guard.sessionCookie() });
    }
    const content = html`${token === null ? '' : html`<p class="problem" role="alert">That token is not this dashboard's.</p>`}
<form method="post" action="${href(pageContext, ['login'])}" class="filter">
<input type="hidden" name="csrf" value="${pageContext.csrfToken}">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off">
<button type="submit">Sign in</button>
</form>`;
    return htmlResponse(token === null ? 200 : 401, page(pageContext, { heading: 'Sign in', section: '' }, content));
  }

  async function login(request: DashboardRequest, pageContext: PageContext): Promise<DashboardResponse> {
    const body = await request.readBody();
    const form = new URLSearchParams(body ?? '');
    if (guard.writable && (await guard.checkWrite(request, form)) === 'csrf') return refused(pageContext, 'csrf');
    if (!guard.tokenMatches(form.get('token') ?? '')) {
      return htmlResponse(
        401,
        page(
          pageContext,
          { heading: 'Sign in', section: '' },
          html`<p class="problem" role="alert">That token is not this dashboard's.</p>`,
        ),
      );
    }
    return redirect(href(pageContext, [], { done: 'signed_in' }), { 'set-cookie': guard.sessionCookie() });
  }

  async function respond(request: DashboardRequest): Promise<DashboardResponse> {
    try {
      return await route(request);
    } catch (error) {
      const message = isBerthError(error)
        ? `${error.code}: ${error.message}`
        : 'an unexpected error; the server log has it';
      if (!isBerthError(error)) logger.error('berth dashboard: a request failed', { error, path: request.path });
      return {
        status: 500,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: `The dashboard failed: ${message}`,
      };
    }
  }

  return {
    handle(request, response, next) {
      const controller = new AbortController();
      response.on('close', () => controller.abort());
      const dashboardRequest = fromNodeRequest(request, basePath, controller.signal);
      if (dashboardRequest === undefined) {
        if (next !== undefined) next();
        else {
          response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
          response.end('not found');
        }
        return;
      }
      respond(dashboardRequest)
        .then((result) => toNodeResponse(result, response, controller.signal))
        .catch((error: unknown) => {
          if (next !== undefined) next(error);
          else response.destroy(error as Error);
        });
    },
    async fetch(request) {
      const dashboardRequest = fromFetchRequest(request, basePath);
      if (dashboardRequest === undefined) return new Response('not found', { status: 404 });
      return toFetchResponse(await respond(dashboardRequest), request.signal);
    },
    close() {
      streams.abort();
    },
  };
}
