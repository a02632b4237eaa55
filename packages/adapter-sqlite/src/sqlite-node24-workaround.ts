import Database from 'better-sqlite3';

/**
 * better-sqlite3 12 wraps statements and databases in node::ObjectWrap. From
 * Node 24.19 on, ObjectWrap's destructor asserts that a Node environment is
 * current, which it is not when V8 collects the object in an idle GC or at
 * exit: the process aborts (`Assertion failed: (env) != nullptr` in
 * `RemoveEnvironmentCleanupHook`). better-sqlite3 13 fixes it but needs
 * Node 22, and Berth supports Node 20.
 *
 * So on those Node versions every statement (and the database that prepared
 * it) is kept reachable for the life of the process and never collected.
 * Berth caches its statements by SQL text, so what is kept is bounded by the
 * distinct statements a process uses.
 */
function needsWorkaround(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 19);
}

const kept: unknown[] = [];
let installed = false;

/** Installs the workaround once, where the running Node needs it. */
export function keepStatementsAlive(): void {
  if (installed || !needsWorkaround(process.versions.node)) return;
  installed = true;
  interface StatementLike {
    readonly reader: boolean;
    run(): unknown;
    all(): unknown[];
    get(): unknown;
    pluck(): StatementLike;
  }
  const prototype = Database.prototype as unknown as {
    prepare: (this: unknown, ...args: unknown[]) => StatementLike;
    pragma: (this: unknown, source: string, options?: { simple?: boolean }) => unknown;
  };
  const prepare = prototype.prepare;
  prototype.prepare = function keptPrepare(this: unknown, ...args: unknown[]): StatementLike {
    const statement = prepare.apply(this, args);
    kept.push(statement, this);
    return statement;
  };
  // pragma() prepares through the native handle, out of reach of the patch
  // above; route it through prepare() so its statements are kept too.
  prototype.pragma = function keptPragma(this: unknown, source: string, options?: { simple?: boolean }): unknown {
    const statement = prototype.prepare.call(this, `PRAGMA ${source}`);
    if (!statement.reader) {
      statement.run();
      return options?.simple ? undefined : [];
    }
    return options?.simple ? statement.pluck().get() : statement.all();
  };
}
