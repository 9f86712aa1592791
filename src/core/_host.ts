import type { Host } from "../adapters/types.ts";

let installed: Host | undefined;

/** Sets the host the core runs on (done once by mod.ts or a child entry). */
export function installHost(host: Host): void {
  installed ??= host;
}

/** The installed host. */
export function getHost(): Host {
  if (!installed) {
    throw new Error("No host installed: import @procs/multiprocessing through its mod.ts");
  }
  return installed;
}
