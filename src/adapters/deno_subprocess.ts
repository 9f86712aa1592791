/**
 * The "spawn" start method on Deno: `Deno.Command` runs the child entry in a
 * new `deno run` with no more permissions than this process has.
 *
 * @module
 */

import type { ChildHandle, Launcher } from "../core/host.ts";
import { SPAWN_ENTRY } from "./_entries.ts";
import { signalNumber } from "./_signals.ts";

const PERMISSIONS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/**
 * The `--allow-*` flags for a child: each permission this process holds in
 * full, and for `read`/`write` held only in part, the paths a child needs
 * (the library, the working directory, the temp directory) that this
 * process may use. A child never gets more than its parent.
 */
export function childPermissionFlags(privateDir: string): string[] {
  const flags: string[] = [];
  for (const name of PERMISSIONS) {
    if (granted({ name } as Deno.PermissionDescriptor)) {
      flags.push(`--allow-${name}`);
    } else if (name === "read" || name === "write") {
      const wanted = [Deno.cwd(), privateDir];
      if (SPAWN_ENTRY.protocol === "file:") {
        wanted.push(new URL("../..", SPAWN_ENTRY).pathname);
      }
      const paths = wanted.filter((path) => granted({ name, path }));
      if (paths.length > 0) flags.push(`--allow-${name}=${paths.join(",")}`);
    }
  }
  return flags;
}

/** Starts children with `Deno.Command`. */
export function denoSubprocessLauncher(privateDir: () => string): Launcher {
  return {
    capabilities: { osProcess: true, sharedMemory: false },
    launch({ bootstrap }): ChildHandle {
      const command = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", ...childPermissionFlags(privateDir()), SPAWN_ENTRY.href],
        stdin: "piped",
        stdout: "inherit",
        stderr: "inherit",
      });
      const child = command.spawn();
      const writer = child.stdin.getWriter();
      writer.write(new TextEncoder().encode(bootstrap + "\n"))
        .then(() => writer.close())
        .catch(() => {});
      return {
        pid: child.pid,
        exited: child.status.then((s) => ({
          code: s.signal ? -signalNumber(s.signal) : s.code,
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
