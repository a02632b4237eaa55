// How `publishOperations` tunes `instrument` without widening its public
// hooks: a symbol-keyed member of the hooks object, unknown to applications.

/** Set on the hooks by `publishOperations`. */
export const PROBE_OPTIONS: unique symbol = Symbol('berth.probeOptions');

export interface ProbeOptions {
  /** Whether anyone listens at this moment (a channel's `hasSubscribers`). */
  observed(): boolean;
  /** The next operation id, unique in the process rather than per wrapper. */
  nextId(): number;
}
