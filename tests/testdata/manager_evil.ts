// A module no manager's server may ever import on a client's say-so:
// importing it (or running mgrEvil) leaves a file in the directory named by
// the environment variable PROCS_MGR_EVIL_DIR, when it is set.
import { writeFileSync } from "node:fs";
import process from "node:process";

function mark(what: string): void {
  const dir = process.env.PROCS_MGR_EVIL_DIR;
  if (dir) writeFileSync(`${dir}/${what}-${process.pid}-${Math.random()}`, import.meta.url);
}

mark("imported");

/** Leaves a mark when run. */
export function mgrEvil(): void {
  mark("ran");
}
