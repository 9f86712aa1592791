import type { ExitStatus } from "../core/host.ts";

/** An exit promise that settles once, with the first status given. */
export function exitLatch(): { exited: Promise<ExitStatus>; settle: (status: ExitStatus) => void } {
  let settled = false;
  let resolve!: (status: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => (resolve = r));
  return {
    exited,
    settle(status) {
      if (settled) return;
      settled = true;
      resolve(status);
    },
  };
}
