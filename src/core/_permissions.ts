/**
 * Checks up front that the program holds every permission the library is
 * about to need, so a program run without them fails once, with every flag
 * to add, instead of once per permission from deep inside the library.
 *
 * @module
 */

import { getHost, type PermissionNeed } from "./host.ts";
import { PermissionError } from "./errors.ts";

/** Where the README says why each permission is needed. */
export const PERMISSIONS_DOC =
  'the "Permissions (Deno)" table of the README (README.md#permissions-deno, ' +
  "https://jsr.io/@procs/multiprocessing#permissions-deno)";

/** Throws a {@linkcode PermissionError} listing every permission missing for `need`. */
export function requirePermissions(need: PermissionNeed): void {
  const missing = getHost().checkPermissions(need);
  if (!missing) return;
  const what = need.method === null
    ? "to listen on a socket in its private directory"
    : `to start a "${need.method}" child`;
  throw new PermissionError(
    `This program lacks permissions @procs/multiprocessing needs ${what}: ` +
      `${missing.flags.join(", ")}. Run it again with every flag it needs:\n` +
      `  ${missing.command}\n` +
      `(or grant all with -A). Why each is needed: ${PERMISSIONS_DOC}.`,
    missing.flags,
  );
}
