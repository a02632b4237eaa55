import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RawBuilder,
} from 'kysely';

/** Compiles raw builders to PostgreSQL text with `$n` parameters; it never connects (pg runs the statements). */
const builder: Kysely<Record<string, never>> = new Kysely<Record<string, never>>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** A statement's text and its bound values. */
export interface PgStatement {
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

/** The text and parameters of a kysely `sql` builder, for pg. */
export function compileStatement(query: RawBuilder<unknown>): PgStatement {
  const compiled = query.compile(builder);
  return { sql: compiled.sql, parameters: compiled.parameters };
}
