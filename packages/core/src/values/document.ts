/**
 * The document value model: JSON values plus `Date`.
 *
 * Strings must be well-formed Unicode without U+0000 (PostgreSQL's JSONB cannot
 * hold it), numbers must be finite, object keys may not start with `$` (reserved
 * for operators and encodings) and may not be `__proto__`.
 *
 * ### Examples
 * ```ts
 * import type { DocumentScalar } from '@berth/core';
 *
 * const values: DocumentScalar[] = [null, true, 42, 'text', new Date('2026-01-01')];
 * ```
 */
export type DocumentScalar = null | boolean | number | string | Date;

/**
 * Any value a document may hold.
 *
 * ### Examples
 * ```ts
 * import type { DocumentValue } from '@berth/core';
 *
 * const payload: DocumentValue = { to: 'ada@example.com', tags: ['welcome'], at: new Date() };
 * ```
 */
export type DocumentValue = DocumentScalar | readonly DocumentValue[] | DocumentObject;

/**
 * A plain object of document values. `undefined` properties are dropped on write.
 *
 * ### Examples
 * ```ts
 * import type { DocumentObject } from '@berth/core';
 *
 * const address: DocumentObject = { street: '1 Main St', city: 'Springfield', floor: 3, note: undefined };
 * ```
 */
export interface DocumentObject {
  readonly [key: string]: DocumentValue | undefined;
}

/**
 * A stored document: a plain object whose `id` is a 1–256 character string.
 *
 * ### Examples
 * ```ts
 * import type { Document, RepositoryBackend } from '@berth/core';
 *
 * interface Book extends Document {
 *   title: string;
 *   authors: string[];
 *   published?: Date;
 * }
 *
 * function books(backend: RepositoryBackend) {
 *   return backend.repository<Book>('books');
 * }
 * ```
 */
export interface Document {
  readonly id: string;
}

/**
 * The document type of a repository asked for without a type: any fields.
 *
 * ### Examples
 * ```ts
 * import type { AnyDocument, RepositoryBackend } from '@berth/core';
 *
 * async function titleOf(backend: RepositoryBackend, id: string): Promise<unknown> {
 *   const doc: AnyDocument | null = await backend.repository('books').get(id);
 *   return doc?.title;
 * }
 * ```
 */
export interface AnyDocument extends Document {
  readonly [field: string]: unknown;
}

/**
 * What `insert` accepts: the document with an optional id (generated when absent).
 *
 * ### Examples
 * ```ts
 * import type { NewDocument } from '@berth/core';
 *
 * interface Book { id: string; title: string }
 *
 * const generated: NewDocument<Book> = { title: 'Dune' };
 * const chosen: NewDocument<Book> = { id: 'dune', title: 'Dune' };
 * ```
 */
export type NewDocument<T extends Document> = Omit<T, 'id'> & { readonly id?: string | undefined };

/**
 * Metadata Berth keeps beside every document, never inside it.
 *
 * ### Examples
 * ```ts
 * import type { DocumentMeta, Repository } from '@berth/core';
 *
 * async function metaOf(books: Repository, id: string): Promise<DocumentMeta | undefined> {
 *   return (await books.getEntry(id))?.meta;
 * }
 * ```
 */
export interface DocumentMeta {
  /** 1 on insert, +1 on every write. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * A document together with its metadata.
 *
 * ### Examples
 * ```ts
 * import type { Entry, Repository } from '@berth/core';
 *
 * interface Book { id: string; title: string }
 *
 * async function changedToday(books: Repository<Book>): Promise<Entry<Book>[]> {
 *   const midnight = new Date(new Date().toDateString());
 *   return books.findEntries({ where: { $updatedAt: { $gte: midnight } } });
 * }
 * ```
 */
export interface Entry<T> {
  readonly document: T;
  readonly meta: DocumentMeta;
}
