import type BetterSqlite3 from 'better-sqlite3';

/**
 * better-sqlite3 12 wraps statements and databases in node::ObjectWrap. From
 * Node 24.19 on, ObjectWrap's destructor asserts that a Node environment is
 * current, which it is not when V8 collects the object in an idle GC or at
 * exit: the process aborts (`Assertion failed: (env) != nullptr` in
 * `RemoveEnvironmentCleanupHook`). better-sqlite3 13 fixes it but needs
 * Node 22, and Berth supports Node 20.
 *
 * So on those Node versions Berth keeps its own statements and databases
 * (with every statement prepared on a database it opened itself)
 * reachable for the life of the process. It patches no prototype: other
 * users of better-sqlite3 in the process are left alone. Berth caches its statements by SQL text, so what is kept is bounded
 * by the distinct statements a process uses.
 */
export function needsWorkaround(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 19);
}

/**
 * Whether Berth's statements are kept alive in this process. Then a
 * statement cache must not drop statements (preparing one again would keep
 * a second copy): what is kept stays bounded by the distinct statements.
 */
export const keepsStatements: boolean = needsWorkaround(process.versions.node);
const kept: unknown[] = [];

/** How many statements and databases are kept alive (for tests). */
export function keptCount(): number {
  return kept.length;
}

interface StatementLike {
  readonly reader: boolean;
  run(): unknown;
  all(): unknown[];
  get(): unknown;
  pluck(): StatementLike;
}

/**
 * Keeps a database Berth opened itself reachable where the running Node
 * needs it, before anything can fail (one that fails to open is collected
 * too), and with it every statement prepared on it, also by an application
 * through `native()`. Only this instance gets the wrapping `prepare` and
 * `pragma`: better-sqlite3's prototypes, and so every other database in the
 * process, stay untouched.
 */
export function keepDatabase(db: BetterSqlite3.Database): void {
  if (!keepsStatements) return;
  kept.push(db);
  const prepare = db.prepare.bind(db) as (source: string) => StatementLike;
  const keptPrepare = (source: string): StatementLike => {
    const statement = prepare(source);
    kept.push(statement);
    return statement;
  };
  Object.assign(db, {
    prepare: keptPrepare,
    // pragma() prepares natively, out of reach of prepare: route it through it.
    pragma: (source: string, options?: { simple?: boolean }): unknown => {
      const statement = keptPrepare(`PRAGMA ${source}`);
      if (!statement.reader) {
        statement.run();
        return options?.simple ? undefined : [];
      }
      return options?.simple ? statement.pluck().get() : statement.all();
    },
  });
}

/** `db.prepare(source)`, the statement kept alive where the running Node needs it. */
export function prepareKept(db: BetterSqlite3.Database, source: string): BetterSqlite3.Statement {
  const statement = db.prepare(source);
  if (keepsStatements) kept.push(statement, db);
  return statement;
}

/**
 * `db.pragma(source)` through {@link prepareKept}: `pragma()` prepares its
 * statement out of reach, where it could not be kept.
 */
export function pragma(db: BetterSqlite3.Database, source: string): unknown[] {
  const statement = prepareKept(db, `PRAGMA ${source}`);
  if (!statement.reader) {
    statement.run();
    return [];
  }
  return statement.all();
}
