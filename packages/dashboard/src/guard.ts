import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DashboardRequest } from './http.js';

/** The cookie that proves a browser gave the token once (its value is a MAC of the token, never the token). */
const SESSION_COOKIE = 'berth_dashboard';

/**
 * Decides whether a request may change anything (retry, cancel): the
 * application's answer, from the request the server received.
 *
 * ### Examples
 * ```ts
 * import type { IncomingMessage } from 'node:http';
 * import type { Authorize } from '@berth/dashboard';
 *
 * // Behind a proxy that authenticates operators and sets this header.
 * const authorize: Authorize = (request) =>
 *   'headers' in request && (request as IncomingMessage).headers['x-operator-role'] === 'admin';
 * ```
 */
export type Authorize = (request: IncomingMessage | Request) => boolean | Promise<boolean>;

/** Why a write was refused, for the page that says so. */
export type Refusal = 'read-only' | 'no-credentials' | 'unauthorized' | 'csrf';

function equal(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function cookie(request: DashboardRequest, name: string): string | undefined {
  for (const part of (request.header('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/**
 * Who may write, and the checks every write passes: read-only mode, the
 * token (as `Authorization: Bearer`, or the session cookie a browser gets
 * by giving it once) or the application's `authorize`, and a CSRF token
 * bound to this dashboard instance plus `Origin`/`Sec-Fetch-Site` checks.
 */
export class Guard {
  /** Random per dashboard instance: cookies and CSRF tokens of another instance are worthless here. */
  private readonly secret = randomBytes(32);

  constructor(
    private readonly options: {
      readonly readOnly: boolean;
      readonly token: string | undefined;
      readonly authorize: Authorize | undefined;
      readonly basePath: string;
    },
  ) {}

  private mac(purpose: string): string {
    return createHmac('sha256', this.secret).update(purpose).digest('base64url');
  }

  /** The token every action form carries. */
  get csrfToken(): string {
    return this.mac('csrf');
  }

  /** Whether writes can be allowed at all (not read-only, and a token or `authorize` is set). */
  get writable(): boolean {
    return !this.options.readOnly && (this.options.token !== undefined || this.options.authorize !== undefined);
  }

  /** Whether `token` is this dashboard's token. */
  tokenMatches(token: string): boolean {
    return this.options.token !== undefined && equal(token, this.options.token);
  }

  /** The `Set-Cookie` header that keeps a browser signed in after it gave the token. */
  sessionCookie(): string {
    const path = this.options.basePath === '' ? '/' : this.options.basePath;
    return `${SESSION_COOKIE}=${this.mac(`session:${this.options.token ?? ''}`)}; Path=${path}; HttpOnly; SameSite=Strict`;
  }

  /** Whether the request carries the token, or the session cookie given for it. */
  private hasToken(request: DashboardRequest): boolean {
    if (this.options.token === undefined) return false;
    const authorization = request.header('authorization');
    if (authorization?.startsWith('Bearer ') === true && this.tokenMatches(authorization.slice(7))) return true;
    const session = cookie(request, SESSION_COOKIE);
    return session !== undefined && equal(session, this.mac(`session:${this.options.token}`));
  }

  /** Whether the request may see write buttons (no CSRF check: nothing is changed by asking). */
  async mayWrite(request: DashboardRequest): Promise<boolean> {
    if (!this.writable) return false;
    if (this.hasToken(request)) return true;
    return this.options.authorize !== undefined && (await this.options.authorize(request.original)) === true;
  }

  /** `undefined` when the write may go ahead, otherwise why not. `form` is the posted form. */
  async checkWrite(request: DashboardRequest, form: URLSearchParams): Promise<Refusal | undefined> {
    if (this.options.readOnly) return 'read-only';
    if (!this.writable) return 'no-credentials';
    if (!this.sameOrigin(request) || !equal(form.get('csrf') ?? '', this.csrfToken)) return 'csrf';
    return (await this.mayWrite(request)) ? undefined : 'unauthorized';
  }

  /** A browser's own statement of where the request came from, when it makes one. */
  private sameOrigin(request: DashboardRequest): boolean {
    const site = request.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    const origin = request.header('origin');
    if (origin === undefined) return true;
    const host = request.header('host');
    try {
      return host !== undefined && new URL(origin).host === host;
    } catch {
      return false;
    }
  }
}
