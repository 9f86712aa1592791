/** `node:url` in a web page (see _unavailable.ts). @module */
import { unavailable } from "./_unavailable.ts";
export const pathToFileURL = unavailable("node:url pathToFileURL");
export const fileURLToPath = unavailable("node:url fileURLToPath");
export default { pathToFileURL, fileURLToPath };
