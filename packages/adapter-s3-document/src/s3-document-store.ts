import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import {
  type DocumentStore,
  type DocumentWriteOptions,
  type SignalOptions,
  type StoredDocument,
  ValidationError,
} from '@berth/core';
import { checkDocumentWriteOptions, checkDuration, isPlainObject, throwIfAborted } from '@berth/core/adapter';
import { isNotFound, toBerthError } from './s3-errors.js';

/**
 * Where the document lives and how to reach it.
 *
 * ### Examples
 * ```ts
 * import { S3DocumentStore, type S3DocumentStoreConfig } from '@berth/adapter-s3-document';
 *
 * const config: S3DocumentStoreConfig = {
 *   bucket: 'my-bot',
 *   key: 'berth/state.json',
 *   region: 'eu-west-1',
 *   requestTimeoutMs: 10_000,
 * };
 * const store = new S3DocumentStore(config);
 * const current = await store.read();
 * ```
 */
export interface S3DocumentStoreConfig {
  /** The bucket (3–63 characters: lowercase letters, digits, dots, hyphens). */
  readonly bucket: string;
  /** The object key, such as `berth/state.json` (1–1024 bytes of UTF-8, no control characters). */
  readonly key: string;
  /** The region (default: the standard AWS chain, `AWS_REGION`; `us-east-1` when an `endpoint` is given). */
  readonly region?: string | undefined;
  /** An S3-compatible endpoint (MinIO, R2, Ceph): `https://…`. Default: AWS S3. */
  readonly endpoint?: string | undefined;
  /** Address the bucket in the path rather than the host name (default: `true` when an `endpoint` is given). */
  readonly forcePathStyle?: boolean | undefined;
  /** Credentials (default: the standard AWS chain: environment, shared files, instance or container roles). */
  readonly credentials?: S3ClientConfig['credentials'] | undefined;
  /**
   * Longest time one request (and its response) may take before it fails with
   * a retryable `TIMEOUT` (default 60 000 ms; connecting: at most 5 000 ms).
   * Without it a store that stops answering would hold a save forever.
   */
  readonly requestTimeoutMs?: number | undefined;
  /** A client of your own, used as it is (the options above but bucket and key are then ignored); never destroyed by the store. */
  readonly client?: S3Client | undefined;
}

/** AWS's rules for bucket names, which S3-compatible stores follow. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

function checkConfig(config: S3DocumentStoreConfig): void {
  if (!isPlainObject(config)) throw new ValidationError('S3DocumentStore needs { bucket, key }', 'config');
  const { bucket, key } = config;
  if (typeof bucket !== 'string' || !BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new ValidationError(
      `bucket ${JSON.stringify(bucket)} is not a valid bucket name (3–63 lowercase letters, digits, dots and hyphens)`,
      'bucket',
    );
  }
  if (typeof key !== 'string' || key.length === 0 || Buffer.byteLength(key) > 1024 || CONTROL_CHARACTERS.test(key)) {
    throw new ValidationError(
      `key ${JSON.stringify(key)} is not a valid object key (1–1024 bytes, no control characters)`,
      'key',
    );
  }
  for (const name of ['region', 'endpoint'] as const) {
    const value = config[name];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new ValidationError(`${name} must be a non-empty string`, name);
    }
  }
  if (config.endpoint !== undefined && !URL.canParse(config.endpoint)) {
    throw new ValidationError(`endpoint ${JSON.stringify(config.endpoint)} is not a URL`, 'endpoint');
  }
  if (config.forcePathStyle !== undefined && typeof config.forcePathStyle !== 'boolean') {
    throw new ValidationError('forcePathStyle must be true or false', 'forcePathStyle');
  }
  if (config.requestTimeoutMs !== undefined) checkDuration('requestTimeoutMs', config.requestTimeoutMs, 1);
  if (config.client !== undefined && !(config.client instanceof S3Client)) {
    throw new ValidationError('client must be an S3Client from @aws-sdk/client-s3', 'client');
  }
}

/** The ETag as a condition header: Ceph's gateway (and DigitalOcean Spaces) only match it without its quotes. */
function unquoted(etag: string): string {
  return etag.replace(/^(W\/)?"(.*)"$/, '$2');
}

/** The SDK's client options from ours, leaving out what is not set (the SDK then uses its standard chain). */
function clientConfig(config: S3DocumentStoreConfig): S3ClientConfig {
  const region = config.region ?? (config.endpoint === undefined ? undefined : 'us-east-1');
  return {
    ...(region === undefined ? {} : { region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
    forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: config.requestTimeoutMs ?? 60_000,
      throwOnRequestTimeout: true,
    },
    // Checksums in a streaming trailer are what some S3-compatible stores keep as data.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

/** The SDK's per-request options: an abort signal when there is one. */
function requestOptions(options: SignalOptions | undefined): { abortSignal?: AbortSignal } {
  return options?.signal === undefined ? {} : { abortSignal: options.signal };
}

/**
 * One document in an S3 object. Reads return its ETag; writes are
 * conditional (`If-Match` for compare-and-swap, `If-None-Match: *` for a new
 * object), so two writers never overwrite each other: a failed precondition
 * is `CONFLICT`. Throttling and network failures are retryable `CONNECTION`
 * errors (the document backend retries its saves with backoff).
 *
 * ### Examples
 * ```ts
 * import { S3DocumentStore } from '@berth/adapter-s3-document';
 *
 * const store = new S3DocumentStore({ bucket: 'my-bot', key: 'state.json', region: 'eu-west-1' });
 * const current = await store.read();
 * await store.write(new TextEncoder().encode('{}'), current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
 * await store.close();
 * ```
 */
export class S3DocumentStore implements DocumentStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly bucket: string;
  private readonly key: string;

  constructor(config: S3DocumentStoreConfig) {
    checkConfig(config);
    this.bucket = config.bucket;
    this.key = config.key;
    this.location = `s3://${config.bucket}/${config.key}`;
    this.ownsClient = config.client === undefined;
    this.client = config.client ?? new S3Client(clientConfig(config));
  }

  async read(options?: SignalOptions): Promise<StoredDocument | null> {
    throwIfAborted(options?.signal, 'read');
    let body: Uint8Array;
    let etag: string;
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key }),
        requestOptions(options),
      );
      if (response.Body === undefined || response.ETag === undefined) {
        throw new Error('the response has no body or no ETag');
      }
      body = await response.Body.transformToByteArray();
      etag = response.ETag;
    } catch (error) {
      throwIfAborted(options?.signal, 'read');
      if (isNotFound(error)) return null;
      throw toBerthError(error, this.location, 'read');
    }
    // Bytes as stored: a gzipped document (Content-Encoding: gzip) is the document backend's to decompress.
    return { data: body, etag };
  }

  async write(data: Uint8Array, options?: DocumentWriteOptions): Promise<{ readonly etag: string }> {
    throwIfAborted(options?.signal, 'write');
    if (!(data instanceof Uint8Array)) throw new ValidationError('write takes a Uint8Array', 'data');
    checkDocumentWriteOptions(options);
    try {
      const response = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Body: data,
          ContentType: 'application/json',
          ...(options?.contentEncoding === undefined ? {} : { ContentEncoding: options.contentEncoding }),
          ...(options?.ifMatch === undefined ? {} : { IfMatch: unquoted(options.ifMatch) }),
          ...(options?.ifNoneMatch === undefined ? {} : { IfNoneMatch: options.ifNoneMatch }),
        }),
        requestOptions(options),
      );
      if (response.ETag === undefined) throw new Error('the response has no ETag');
      return { etag: response.ETag };
    } catch (error) {
      throwIfAborted(options?.signal, 'write');
      throw toBerthError(error, this.location, 'write');
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
}
