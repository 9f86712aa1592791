/** `node:child_process` in a web page: no processes (see _unavailable.ts). @module */
import { unavailable } from "./_unavailable.ts";
export const spawn = unavailable("node:child_process spawn");
export default { spawn };
