/**
 * Serves a directory over HTTP, optionally with the headers that make a page
 * cross-origin isolated (COOP `same-origin`, COEP `require-corp`), which
 * `SharedArrayBuffer` needs. Used by serve.ts and tests/playground_test.ts.
 *
 * @module
 */

import { extname, join, normalize } from "node:path";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

/** The headers that make a page cross-origin isolated. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

/**
 * A request handler serving the files of `dir` (`/` and `/x/` serve `index.html`).
 *
 * @param dir The directory to serve.
 * @param isolate Whether every response carries {@linkcode ISOLATION_HEADERS}.
 * @returns The handler, for `Deno.serve`.
 */
export function staticHandler(
  dir: string,
  isolate: boolean,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const headers = new Headers(isolate ? ISOLATION_HEADERS : {});
    headers.set("Cache-Control", "no-cache");
    let path = decodeURIComponent(new URL(request.url).pathname);
    if (path.endsWith("/")) path += "index.html";
    const file = join(dir, normalize(path).replace(/^(\.\.(\/|$))+/, ""));
    try {
      const body = await Deno.readFile(file);
      headers.set("Content-Type", TYPES[extname(file)] ?? "application/octet-stream");
      return new Response(body, { headers });
    } catch {
      return new Response("Not found", { status: 404, headers });
    }
  };
}
