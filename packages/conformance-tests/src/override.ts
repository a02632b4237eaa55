function isFunction(value: unknown): value is (...args: unknown[]) => unknown {
  return typeof value === 'function';
}

/**
 * `target` with some members replaced. Every other member is the target's
 * own, methods bound to it, so `this` and private fields stay right.
 */
export function override<O extends object>(target: O, members: { readonly [property: string]: unknown }): O {
  const bound = new WeakMap<object, unknown>();
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === 'string' && Object.hasOwn(members, property)) return members[property];
      const value: unknown = Reflect.get(object, property, object);
      if (!isFunction(value)) return value;
      let method = bound.get(value);
      if (method === undefined) {
        method = value.bind(object);
        bound.set(value, method);
      }
      return method;
    },
  });
}
