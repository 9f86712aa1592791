/**
 * The task of the JS pools (piscina and tinypool run a module's default
 * export): the pool workloads' trivial `x * x`.
 *
 * @module
 */

/** `x * x`. */
export default function square(x: number): number {
  return x * x;
}
