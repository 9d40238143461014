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

/**
 * Makes `obj[key]` a value built on first read, after which it is a plain data property, as it is at once when
 * assigned; `onSettled` runs when it becomes one. The object reads, lists, spreads and serialises like one built
 * whole; only code that never reads the property skips building it.
 */
export function valueOnRead<T extends object, K extends keyof T>(obj: T, key: K, build: () => T[K], onSettled?: () => void): void {
  const settle = (value: T[K]): T[K] => {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })
    onSettled?.()
    return value
  }
  Object.defineProperty(obj, key, { get: () => settle(build()), set: settle, enumerable: true, configurable: true })
}
