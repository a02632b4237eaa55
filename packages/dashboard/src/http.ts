import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the dashboard reads (its forms are a few hundred bytes). */
const MAX_BODY_BYTES = 64 * 1024;

/** A request, whichever server received it: Node's `http`, or a fetch-style `Request`. */
export interface DashboardRequest {
  readonly method: string;
  /** The path below the dashboard's base path, starting with `/`. */
  readonly path: string;
  readonly query: URLSearchParams;
  header(name: string): string | undefined;
  /** The body as text, at most {@link MAX_BODY_BYTES}; `undefined` when it is larger. */
  readBody(): Promise<string | undefined>;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  /** The server's own request object (`IncomingMessage` or `Request`), for `authorize`. */
  readonly original: IncomingMessage | Request;
}

/** A whole response. */
export interface BodyResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A response written as it goes (server-sent events) until `signal` aborts. */
export interface StreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  stream(write: (chunk: string) => void, signal: AbortSignal): Promise<void>;
}

export type DashboardResponse = BodyResponse | StreamResponse;

/** Headers every response carries: no script but the dashboard's own file, no framing, no caching, no sniffing. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // not no-referrer: with it, browsers send `Origin: null` on form posts, and the origin check needs the real one.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** The part of `pathname` below `basePath`, or `undefined` when it is not below it. */
function pathBelow(pathname: string, basePath: string): string | undefined {
  if (basePath === '') return pathname;
  if (pathname === basePath) return '/';
  return pathname.startsWith(`${basePath}/`) ? pathname.slice(basePath.length) : undefined;
}

async function readLimited(chunks: AsyncIterable<Uint8Array>): Promise<string | undefined> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) return undefined;
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A Node request as a {@link DashboardRequest}; `undefined` when its path is not below `basePath`. */
export function fromNodeRequest(
  request: IncomingMessage,
  basePath: string,
  signal: AbortSignal,
): DashboardRequest | undefined {
  const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
  const path = pathBelow(url.pathname, basePath);
  if (path === undefined) return undefined;
  return {
    method: request.method ?? 'GET',
    path,
    query: url.searchParams,
    header: (name) => {
      const value = request.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    readBody: () => readLimited(request),
    signal,
    original: request,
  };
}

/** Writes `response` to a Node response; a stream runs until the client leaves or `signal` aborts. */
export async function toNodeResponse(
  response: DashboardResponse,
  target: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const headers = { ...SECURITY_HEADERS, ...response.headers };
  if ('body' in response) {
    target.writeHead(response.status, { ...headers, 'content-length': String(Buffer.byteLength(response.body)) });
    target.end(response.body);
    return;
  }
  target.writeHead(response.status, headers);
  target.flushHeaders();
  try {
    await response.stream((chunk) => target.write(chunk), signal);
  } finally {
    target.end();
  }
}

/** A fetch-style request as a {@link DashboardRequest}; `undefined` when its path is not below `basePath`. */
export function fromFetchRequest(request: Request, basePath: string): DashboardRequest | undefined {
  const url = new URL(request.url);
  const path = pathBelow(url.pathname, basePath);
  if (path === undefined) return undefined;
  return {
    method: request.method,
    path,
    query: url.searchParams,
    header: (name) => request.headers.get(name) ?? undefined,
    readBody: async () => (request.body === null ? '' : readLimited(request.body)),
    signal: request.signal,
    original: request,
  };
}

/** `response` as a fetch `Response`; a stream becomes a `ReadableStream` that ends when the client cancels it. */
export function toFetchResponse(response: DashboardResponse, signal: AbortSignal): Response {
  const headers = { ...SECURITY_HEADERS, ...response.headers };
  if ('body' in response) return new Response(response.body, { status: response.status, headers });
  const encoder = new TextEncoder();
  const controller = new AbortController();
  const stop = () => controller.abort();
  signal.addEventListener('abort', stop, { once: true });
  const body = new ReadableStream<Uint8Array>({
    start(stream) {
      response
        .stream((chunk) => stream.enqueue(encoder.encode(chunk)), controller.signal)
        .catch(() => undefined)
        .finally(() => {
          signal.removeEventListener('abort', stop);
          try {
            stream.close();
          } catch {
            // Already cancelled by the client.
          }
        });
    },
    cancel: stop,
  });
  return new Response(body, { status: response.status, headers });
}
