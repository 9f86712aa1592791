/**
 * Runs the library's contracts in headless Chromium, for tests/browser_test.ts
 * (which runs this under `--config lessons/_docs/docs.deno.json`, where
 * playwright-core and esbuild are pinned, so the root lock stays the
 * lessons'): serves the repository (`_test_server.ts`), opens
 * `tests/browser/contracts.html?contract=<name>` for each contract named
 * on the command line, and prints one JSON line per contract with every
 * test's result. `--no-isolation` serves the pages without COOP/COEP;
 * `--only=<text>` runs only the tests whose name holds that text.
 *
 * Debian's Chromium (`/usr/bin/chromium`) or `$CHROMIUM`; no browser is
 * downloaded.
 *
 * @module
 */

import { chromium } from "playwright-core";
import { serveRepository } from "./_test_server.ts";

// The page's global the driver's page function reads (checked without the DOM's types).
declare const document: { body: { dataset: Record<string, string | undefined> } };

/** Where Chromium is, or null when it is not installed. */
export function chromiumPath(): string | null {
  const path = Deno.env.get("CHROMIUM") || "/usr/bin/chromium";
  try {
    return Deno.statSync(path).isFile ? path : null;
  } catch {
    return null;
  }
}

/** One contract's outcome, as printed. */
export interface ContractRun {
  contract: string;
  isolated: boolean;
  results: { name: string; status: string; ms: number; error?: string; reason?: string }[];
  error?: string;
  /** Workers still running in the page after the contract ended (Chromium's count). */
  workersLeft: number;
}

/** The page's workers once terminated ones are gone (Chromium drops them a moment later). */
async function workersLeft(page: { workers(): unknown[] }): Promise<number> {
  const deadline = performance.now() + 15_000;
  while (page.workers().length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return page.workers().length;
}

if (import.meta.main) {
  const isolated = !Deno.args.includes("--no-isolation");
  const only = Deno.args.find((a) => a.startsWith("--only="))?.slice("--only=".length) ?? "";
  const contracts = Deno.args.filter((a) => !a.startsWith("--"));
  const executablePath = chromiumPath();
  if (!executablePath) {
    throw new Error("no Chromium: install it (apt-get install chromium) or set CHROMIUM");
  }
  const server = serveRepository({ headers: isolated });
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  try {
    for (const contract of contracts) {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.stack ?? error.message));
      // PROCS_PAGE_CONSOLE=1 shows what the page prints (for a contract that fails only there).
      if (Deno.env.get("PROCS_PAGE_CONSOLE")) page.on("console", (m) => console.error(m.text()));
      await page.goto(
        `${server.origin}/tests/browser/contracts.html?contract=${encodeURIComponent(contract)}` +
          `&only=${encodeURIComponent(only)}`,
      );
      await page.waitForFunction(() => document.body.dataset.status === "done", null, {
        timeout: 20 * 60_000,
      });
      const run = await page.evaluate(() => {
        const scope = globalThis as unknown as { __results?: unknown[]; __error?: string };
        return { results: scope.__results ?? [], error: scope.__error };
      });
      const line: ContractRun = {
        contract,
        isolated,
        results: run.results as ContractRun["results"],
        error: [run.error, ...pageErrors].filter(Boolean).join("\n") || undefined,
        workersLeft: await workersLeft(page),
      };
      console.log(JSON.stringify(line));
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
}
