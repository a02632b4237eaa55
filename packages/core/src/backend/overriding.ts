// Shared by the wrappers (`withCache`, `instrument`) that replace some of a
// backend's members and pass every other one through.

/** Whether `value` can be called. */
export function isFunction(value: unknown): value is (...args: unknown[]) => unknown {
  return typeof value === 'function';
}

/**
 * `target` with some members replaced; every other member is the target's
 * own, methods bound to it so `this` (and private fields) stay right. The
 * wrapper keeps the target's whole type (`queue`, `flush`, `native`…).
 */
export function overriding<O extends object>(target: O, overrides: ReadonlyMap<PropertyKey, unknown>): O {
  const bound = new WeakMap<object, unknown>();
  return new Proxy(target, {
    get(object, property) {
      if (overrides.has(property)) return overrides.get(property);
      const value: unknown = Reflect.get(object, property, object);
      if (!isFunction(value)) return value;
      const descriptor = Reflect.getOwnPropertyDescriptor(object, property);
      // A frozen own property must be returned as is (a Proxy invariant).
      if (descriptor !== undefined && descriptor.configurable === false && descriptor.writable === false) return value;
      let method = bound.get(value);
      if (method === undefined) {
        method = value.bind(object);
        bound.set(value, method);
      }
      return method;
    },
  });
}
