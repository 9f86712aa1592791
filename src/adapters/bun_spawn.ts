/**
 * The "spawn" start method on Bun: `Bun.spawn` runs the child entry in a new
 * `bun` process.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { ChildHandle, Launcher } from "../core/host.ts";
import { SPAWN_ENTRY } from "./_entries.ts";
import { signalNumber } from "./_signals.ts";

/** The part of Bun's API this file uses. */
interface BunSubprocess {
  readonly pid: number;
  readonly exited: Promise<number>;
  readonly signalCode: string | null;
  readonly stdin: { write(data: string): void; end(): void };
  kill(signal?: string): void;
  ref(): void;
  unref(): void;
}
interface BunSpawn {
  spawn(cmd: string[], options: Record<string, unknown>): BunSubprocess;
}

/** Starts children with `Bun.spawn`. */
export function bunSpawnLauncher(): Launcher {
  const bun = (globalThis as unknown as { Bun: BunSpawn }).Bun;
  const process =
    (globalThis as unknown as { process: { execPath: string; env: Record<string, string> } })
      .process;
  return {
    capabilities: { osProcess: true, sharedMemory: false },
    launch({ bootstrap }): ChildHandle {
      const child = bun.spawn([process.execPath, fileURLToPath(SPAWN_ENTRY)], {
        stdin: "pipe",
        stdout: "inherit",
        stderr: "inherit",
        env: process.env,
      });
      child.stdin.write(bootstrap + "\n");
      child.stdin.end();
      return {
        pid: child.pid,
        exited: child.exited.then((code) => ({
          code: child.signalCode ? -signalNumber(child.signalCode) : code,
        })),
        kill(signal) {
          try {
            child.kill(signal);
          } catch {
            // already gone
          }
        },
        ref: () => child.ref(),
        unref: () => child.unref(),
      };
    },
  };
}
