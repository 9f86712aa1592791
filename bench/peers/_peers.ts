/**
 * The JS pools the suite compares the library's `applyAsync` with: which
 * versions, how each is set up, and how it is loaded on either runtime (as
 * bench/_tinybench.ts does for tinybench: Deno through bench/bench.deno.json's import
 * map, Bun through versioned specifiers that its auto-install fetches under
 * `bun --install=fallback`).
 *
 * Every pool has 2 workers, as `Pool(2)`. "default" leaves every other
 * setting at the library's default; "tuned" is the setting that gave the
 * most tasks/s here (bench/README.md has the sweep).
 *
 * @module
 */

import type * as PiscinaModule from "piscina";
import type * as TinypoolModule from "tinypool";
import type * as WorkerpoolModule from "workerpool";
import type { PeerMethod } from "../_figures.ts";

/** The versions the suite pins (bench/bench.deno.json says the same). */
export const PEER_VERSIONS = {
  piscina: "5.3.2",
  tinypool: "2.2.0",
  workerpool: "10.0.3",
} as const;

/** A peer's package name. */
export type PeerName = keyof typeof PEER_VERSIONS;

const IS_BUN = "Bun" in globalThis;

/** piscina's tasks in flight per worker when tuned (1 by default). */
export const PISCINA_TUNED = 16;
/** tinypool's tasks in flight per worker when tuned (1 by default). */
export const TINYPOOL_TUNED = 64;
/**
 * Whether the tuned tinypool turns its atomics off: on Deno, tinypool with
 * atomics (its default) never answers the first task.
 */
export const TINYPOOL_TUNED_NO_ATOMICS = !IS_BUN;
/** Tasks per message in the batched hand-written pool. */
export const ROUND_ROBIN_BATCH = 64;

/** What each row is, in words. */
export function peerLabel(method: PeerMethod): string {
  const v = PEER_VERSIONS;
  switch (method) {
    case "piscina-default":
      return `piscina ${v.piscina}, defaults`;
    case "piscina-tuned":
      return `piscina ${v.piscina}, ${PISCINA_TUNED} in flight per worker`;
    case "tinypool-default":
      return `tinypool ${v.tinypool}, defaults`;
    case "tinypool-tuned":
      return `tinypool ${v.tinypool}, ${TINYPOOL_TUNED} in flight per worker${
        TINYPOOL_TUNED_NO_ATOMICS ? ", atomics off" : ""
      }`;
    case "workerpool-default":
      return `workerpool ${v.workerpool}, defaults`;
    case "workerpool-tuned":
      return `workerpool ${v.workerpool}, workerType web`;
    case "round-robin":
      return "round-robin postMessage, no library (floor)";
    case "round-robin-batched":
      return `round-robin postMessage, ${ROUND_ROBIN_BATCH} per message (floor)`;
  }
}

/** The specifier that loads `name` on this runtime. */
export function peerSpecifier(name: PeerName): string {
  return IS_BUN ? `${name}@${PEER_VERSIONS[name]}` : name;
}

async function load<T>(name: PeerName, deno: () => Promise<T>): Promise<T> {
  if (!IS_BUN) return await deno();
  try {
    return await import(peerSpecifier(name)) as T;
  } catch (error) {
    throw new Error(
      `Bun could not load ${
        peerSpecifier(name)
      }: run the suite as \`bun --install=fallback bench/main.ts\` ` +
        `(auto-install needs the npm registry or Bun's cache): ${error}`,
    );
  }
}

/** piscina. */
export function loadPiscina(): Promise<typeof PiscinaModule> {
  return load("piscina", () => import("piscina"));
}

/** tinypool. */
export function loadTinypool(): Promise<typeof TinypoolModule> {
  return load("tinypool", () => import("tinypool"));
}

/** workerpool. */
export function loadWorkerpool(): Promise<typeof WorkerpoolModule> {
  return load("workerpool", () => import("workerpool"));
}
