/**
 * A file server for the library's tests in a web page (tests/browser_test.ts
 * runs it through `_test_driver.ts`): it serves the
 * repository, each `.ts` file as JavaScript (esbuild's `transform`, one file
 * at a time, so every module keeps its own URL as on Deno: a worker finds
 * its target in the module that exports it), with the `node:` modules the
 * contracts import pointed at the shims in `tests/browser/_shims/`, and with the headers
 * that make a page cross-origin isolated (`headers: false` leaves them out).
 *
 * @module
 */

import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import { ISOLATION_HEADERS, staticHandler } from "./_static.ts";

const ROOT = new URL("../", import.meta.url);
const SHIMS: Record<string, string> = {
  "node:test": "node_test",
  "node:assert/strict": "node_assert_strict",
  "node:assert": "node_assert_strict",
  "node:process": "node_process",
  "node:fs": "node_fs",
  "node:net": "node_net",
  "node:os": "node_os",
  "node:path": "node_path",
  "node:url": "node_url",
  "node:crypto": "node_crypto",
  "node:child_process": "node_child_process",
};

/** A running test server: its origin, and how to stop it. */
export interface TestServer {
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves the repository on 127.0.0.1 (a free port). */
export function serveRepository(options: { headers?: boolean } = {}): TestServer {
  const cache = new Map<string, string>();
  const isolate = options.headers ?? true;
  const files = staticHandler(fileURLToPath(ROOT), isolate);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (!path.endsWith(".ts")) return files(request);
    const headers = new Headers(isolate ? ISOLATION_HEADERS : {});
    headers.set("Content-Type", "text/javascript; charset=utf-8");
    // The sources do not change during a test run: each worker of a page takes the library's
    // modules from the browser's cache instead of fetching them again.
    headers.set("Cache-Control", "max-age=3600");
    try {
      let code = cache.get(path);
      if (code === undefined) {
        const file = new URL(`.${path}`, ROOT);
        if (!file.href.startsWith(ROOT.href) || path.includes("..")) {
          return new Response("outside the repository", { status: 403 });
        }
        const result = await esbuild.transform(await Deno.readTextFile(file), {
          loader: "ts",
          format: "esm",
          target: "es2022",
          sourcemap: "inline",
          sourcefile: path,
        });
        code = pointAtShims(result.code);
        cache.set(path, code);
      }
      return new Response(code, { headers });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new Response("not found", { status: 404 });
      return new Response(String(error), { status: 500 });
    }
  });
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    async close() {
      await server.shutdown();
      await esbuild.stop();
    },
  };
}

function pointAtShims(code: string): string {
  return code.replace(/(["'])(node:[a-z_/]+)\1/g, (whole, quote: string, name: string) => {
    const shim = SHIMS[name];
    return shim ? `${quote}/tests/browser/_shims/${shim}.ts${quote}` : whole;
  });
}
