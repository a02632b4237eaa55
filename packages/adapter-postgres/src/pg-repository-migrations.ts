import type { PgMigration } from './pg-migrations.js';

/** The repository side's schema steps (versions 1 to 100; the queue's are 101 and up). */
export const REPOSITORY_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'collections and their declared indexes',
    statements: (schema) => [
      // Every collection table of the schema, so tools and tests can tell them from Berth's own tables.
      `CREATE TABLE IF NOT EXISTS ${schema}._berth_collections (
        name text COLLATE "C" PRIMARY KEY,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`,
      // The declared indexes: a backend opened later enforces (and names in
      // ALREADY_EXISTS) the unique ones without their being declared again.
      // `key` is the field of a single-field index, `(<name>)` of a compound one.
      `CREATE TABLE IF NOT EXISTS ${schema}._berth_indexes (
        collection text COLLATE "C" NOT NULL REFERENCES ${schema}._berth_collections (name) ON DELETE CASCADE,
        key text COLLATE "C" NOT NULL,
        is_unique boolean NOT NULL,
        index_name text COLLATE "C" NOT NULL,
        definition jsonb NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        PRIMARY KEY (collection, key, is_unique)
      )`,
    ],
  },
  {
    version: 2,
    name: 'index declarations keep their order',
    statements: (schema) => [
      // backend.collections() lists a collection's indexes as declared: several declared by one
      // repository share a created_at. Rows already there are numbered in their stored order.
      `ALTER TABLE ${schema}._berth_indexes ADD COLUMN declared bigint GENERATED ALWAYS AS IDENTITY`,
    ],
  },
  {
    version: 3,
    name: 'document versions are bigint',
    statements: (schema) => [
      // importEntries keeps any version up to 2^53 - 1. Rewrites each collection table once.
      `DO $bigint$ DECLARE t regclass; BEGIN
        FOR t IN SELECT to_regclass('${schema}.' || quote_ident(name)) FROM ${schema}._berth_collections ORDER BY name LOOP
          IF t IS NOT NULL THEN EXECUTE format('ALTER TABLE %s ALTER COLUMN version TYPE bigint', t); END IF;
        END LOOP;
      END $bigint$`,
    ],
  },
];
