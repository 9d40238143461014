/**
 * `build(a, b)`, made once per pair of objects and kept while both live (a WeakMap of WeakMaps). `build` should be a
 * module-level function: a closure would be allocated on every call, and these run on every warm trace.
 */
export function memoPair<A extends object, B extends object, V>(cache: WeakMap<A, WeakMap<B, V>>, a: A, b: B, build: (a: A, b: B) => V): V {
  let byB = cache.get(a)
  if (byB === undefined) {
    byB = new WeakMap()
    cache.set(a, byB)
  }
  let value = byB.get(b)
  if (value === undefined) {
    value = build(a, b)
    byB.set(b, value)
  }
  return value
}
