/** The child entry modules, by URL, for launchers to start. */
export const SPAWN_ENTRY: URL = new URL("../child/spawn_main.ts", import.meta.url);
/** The entry a worker child starts from. */
export const WORKER_ENTRY: URL = new URL("../child/worker_main.ts", import.meta.url);
/**
 * The entry a web page's worker starts from (no `node:` module). The
 * browser build of the library rewrites this line to its own `worker.js`
 * (see playground/_library.ts).
 */
export const WEB_WORKER_ENTRY: URL = new URL("../child/web_worker_main.ts", import.meta.url);
