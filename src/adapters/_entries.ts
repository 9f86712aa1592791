/** The child entry modules, by URL, for launchers to start. */
export const SPAWN_ENTRY: URL = new URL("../child/spawn_main.ts", import.meta.url);
/** The entry a worker child starts from. */
export const WORKER_ENTRY: URL = new URL("../child/worker_main.ts", import.meta.url);
