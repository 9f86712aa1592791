/**
 * Deno's permissions, checked all at once before the library's first
 * operation that needs them: a program run without flags learns every flag
 * it lacks from one error, instead of failing (or prompting) once per
 * permission. A permission held only for some paths counts as held when it
 * covers the paths the library uses: the temp directory (where the private
 * socket directory is made), the library's own modules and the modules a
 * child imports, and the `deno` executable.
 *
 * @module
 */

import type { MissingPermissions, PermissionNeed } from "../core/host.ts";
import { SPAWN_ENTRY } from "./_entries.ts";

type Name = "read" | "write" | "net" | "run";

/** What each kind of work needs: "spawn" runs `deno`, every child and socket uses the private directory. */
const NEEDS: Readonly<Record<"spawn" | "worker" | "sockets", readonly Name[]>> = {
  spawn: ["read", "write", "net", "run"],
  worker: ["read", "write", "net"],
  sockets: ["read", "write", "net"],
};

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** A `file:` URL's path, or null for any other URL. */
function filePath(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "file:" ? decodeURIComponent(parsed.pathname) : null;
  } catch {
    return null;
  }
}

/**
 * The temp directory `Deno.makeTempDirSync` uses: `TMPDIR` when this
 * program may read it (add `--allow-env=TMPDIR` when it is set and write
 * access is granted only there), else `/tmp`.
 */
function tempDir(): string {
  if (granted({ name: "env", variable: "TMPDIR" })) {
    const value = Deno.env.get("TMPDIR");
    if (value) return value.replace(/\/+$/, "") || "/";
  }
  return "/tmp";
}

/** Whether this program holds `name` for every path or command the library uses. */
function holds(name: Name, need: PermissionNeed): boolean {
  if (granted({ name })) return true;
  // Held in part (or not at all): check the very paths the library uses.
  // The private directory's name is random, so any name in the temp
  // directory stands for it.
  const socket = `${tempDir()}/procs-mp-0123456789abcdef/node.sock`;
  switch (name) {
    case "write":
      return granted({ name, path: socket });
    case "net":
      return granted({ name, host: `unix:${socket}` });
    case "run":
      return granted({ name, command: Deno.execPath() });
    case "read": {
      const paths = [socket];
      const library = filePath(new URL("../..", SPAWN_ENTRY).href);
      if (need.method !== null && library) paths.push(library);
      for (const module of need.method !== null ? need.modules : []) {
        const path = filePath(module);
        if (path) paths.push(path);
      }
      return paths.every((path) => granted({ name, path }));
    }
  }
}

const satisfied = new Set<string>();

/** The permissions this program lacks for `need`, or null when it holds them all. */
export function missingDenoPermissions(need: PermissionNeed): MissingPermissions | null {
  const key = `${need.method}\n${need.modules.join("\n")}`;
  if (satisfied.has(key)) return null;
  const names = NEEDS[need.method ?? "sockets"];
  const missing = names.filter((name) => !holds(name, need));
  if (missing.length === 0) {
    satisfied.add(key);
    return null;
  }
  const main = filePath(Deno.mainModule) ?? Deno.mainModule;
  const flags = names.map((name) => `--allow-${name}`);
  return {
    flags: missing.map((name) => `--allow-${name}`),
    command: `deno run ${flags.join(" ")} ${main}`,
  };
}
