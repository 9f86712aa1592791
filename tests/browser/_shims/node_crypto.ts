/** `node:crypto` in a web page: what the contracts use is not there (see _unavailable.ts). @module */
import { unavailable } from "./_unavailable.ts";
export const createHmac = unavailable("node:crypto createHmac");
export const randomBytes = unavailable("node:crypto randomBytes");
export default { createHmac, randomBytes };
