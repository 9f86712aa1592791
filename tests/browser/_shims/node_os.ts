/** `node:os` in a web page (see _unavailable.ts). @module */
import { unavailable } from "./_unavailable.ts";
export const tmpdir = unavailable("node:os tmpdir");
export default { tmpdir };
