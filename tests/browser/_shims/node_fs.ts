/** `node:fs` in a web page: no files (see _unavailable.ts). @module */
import { unavailable } from "./_unavailable.ts";
export const appendFileSync = unavailable("node:fs appendFileSync");
export const existsSync = unavailable("node:fs existsSync");
export const mkdtempSync = unavailable("node:fs mkdtempSync");
export const readdirSync = unavailable("node:fs readdirSync");
export const readFileSync = unavailable("node:fs readFileSync");
export const rmSync = unavailable("node:fs rmSync");
export const writeFileSync = unavailable("node:fs writeFileSync");
export default {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
};
