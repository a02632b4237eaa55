import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { CliError, EXIT } from '../cli-error.js';

/** How far one collection's copy got. */
export interface CollectionCheckpoint {
  /** The last id imported (ids are copied in id order), `undefined` before the first batch. */
  readonly lastId: string | undefined;
  /** Documents imported so far. */
  readonly copied: number;
  /** Every document was imported. */
  readonly done: boolean;
}

/**
 * What `berth copy` saves after every imported batch so that running the same
 * command again resumes where it stopped. It holds the two backends'
 * descriptions without credentials, never a password.
 */
export interface CopyCheckpoint {
  readonly format: 'berth-copy-checkpoint';
  readonly version: 1;
  readonly source: string;
  readonly target: string;
  readonly collections: Readonly<Record<string, CollectionCheckpoint>>;
  /** Queues whose jobs and schedules were all imported (true), or begun (false). */
  readonly queues: Readonly<Record<string, boolean>>;
}

/** A checkpoint with nothing done yet. */
export function emptyCheckpoint(source: string, target: string): CopyCheckpoint {
  return { format: 'berth-copy-checkpoint', version: 1, source, target, collections: {}, queues: {} };
}

// User information (`user:password@`) and query parameters that carry secrets.
const USER_INFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^@/?#]*@/;
const SECRET_PARAMETER =
  /([?&])(password|passwd|pass|secret|token|auth|credentials?|access[-_]?key[^=&]*|secret[^=&]*)=[^&#]*/gi;

/** `user:password@` in a URL (a user name alone is no secret). */
const PASSWORD = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^@/?#:]*:[^@/?#]*@/;

/** Whether `url` carries a password or a secret query parameter, which must never be printed. */
export function carriesSecrets(url: string): boolean {
  return PASSWORD.test(url) || new RegExp(SECRET_PARAMETER.source, 'i').test(url);
}

/**
 * A backend URL with its credentials removed (`user:password@` and secret
 * query parameters), safe to print and to write to disk.
 *
 * ### Examples
 * ```ts
 * import { redactUrl } from '@berth/cli';
 *
 * redactUrl('postgres://app:s3cret@db:5432/app'); // 'postgres://db:5432/app'
 * ```
 */
export function redactUrl(url: string): string {
  return url.replace(USER_INFO, '$1').replace(SECRET_PARAMETER, '$1$2=redacted');
}

/**
 * Where `berth copy` keeps its checkpoint unless `--checkpoint` says
 * otherwise: a file in the working directory named from a hash of the two
 * URLs without their credentials, so the same command finds it again.
 *
 * ### Examples
 * ```ts
 * import { defaultCheckpointPath } from '@berth/cli';
 *
 * defaultCheckpointPath('sqlite:./app.db', 'postgres://db/app'); // 'berth-copy-1a2b3c4d5e6f.json'
 * ```
 */
export function defaultCheckpointPath(fromUrl: string, toUrl: string): string {
  const digest = createHash('sha256')
    .update(`${redactUrl(fromUrl)}\n${redactUrl(toUrl)}`)
    .digest('hex');
  return `berth-copy-${digest.slice(0, 12)}.json`;
}

/** The checkpoint at `path`, or `undefined` when there is none; a file that is not one is a usage error. */
export async function readCheckpoint(path: string): Promise<CopyCheckpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = parseCheckpoint(text);
  if (parsed === undefined) {
    throw new CliError(
      `${path} is not a berth copy checkpoint`,
      EXIT.usage,
      'pass another --checkpoint path, or remove the file if it is left from something else',
    );
  }
  return parsed;
}

function parseCheckpoint(text: string): CopyCheckpoint | undefined {
  try {
    const value = JSON.parse(text) as Partial<CopyCheckpoint> | null;
    const valid =
      value !== null &&
      value.format === 'berth-copy-checkpoint' &&
      value.version === 1 &&
      typeof value.source === 'string' &&
      typeof value.target === 'string' &&
      typeof value.collections === 'object' &&
      value.collections !== null &&
      typeof value.queues === 'object' &&
      value.queues !== null;
    return valid ? (value as CopyCheckpoint) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the checkpoint atomically: a temporary file beside it, then a
 * rename, so a crash leaves either the old checkpoint or the new one.
 */
export async function writeCheckpoint(path: string, checkpoint: CopyCheckpoint): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}

/** Removes the checkpoint once the copy is complete. */
export async function removeCheckpoint(path: string): Promise<void> {
  await rm(path, { force: true });
}
