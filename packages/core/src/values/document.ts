/**
 * The document value model: JSON values plus `Date`.
 *
 * Strings must be well-formed Unicode without U+0000 (PostgreSQL's JSONB cannot
 * hold it), numbers must be finite, object keys may not start with `$` (reserved
 * for operators and encodings) and may not be `__proto__`.
 */
export type DocumentScalar = null | boolean | number | string | Date;

/** Any value a document may hold. */
export type DocumentValue = DocumentScalar | readonly DocumentValue[] | DocumentObject;

/** A plain object of document values. `undefined` properties are dropped on write. */
export interface DocumentObject {
  readonly [key: string]: DocumentValue | undefined;
}

/** A stored document: a plain object whose `id` is a 1–256 character string. */
export interface Document {
  readonly id: string;
}

/** The document type of a repository asked for without a type: any fields. */
export interface AnyDocument extends Document {
  readonly [field: string]: unknown;
}

/** What `insert` accepts: the document with an optional id (generated when absent). */
export type NewDocument<T extends Document> = Omit<T, 'id'> & { readonly id?: string | undefined };

/** Metadata Berth keeps beside every document, never inside it. */
export interface DocumentMeta {
  /** 1 on insert, +1 on every write. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A document together with its metadata. */
export interface Entry<T> {
  readonly document: T;
  readonly meta: DocumentMeta;
}
