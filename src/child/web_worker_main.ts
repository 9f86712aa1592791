/**
 * The entry a web page's worker child starts from: its bootstrap line, its
 * shared memory, the page's pid and output ring and its way to the
 * `MessagePort` hub come as its first message. The listener is set before
 * anything else is imported, so that message is never missed.
 *
 * @module
 */

import type { BrokerGrant } from "../adapters/message_port.ts";
import type { PageInfo } from "../adapters/browser_host.ts";

/** browser_host.ts's `PAGE_INFO`, not imported: nothing is loaded before the listener is set. */
const PAGE_INFO: unique symbol = Symbol.for("@procs/multiprocessing/page") as never;

interface WorkerStart {
  bootstrap: string;
  shared: SharedArrayBuffer[];
  page: PageInfo;
  broker?: BrokerGrant;
  /** A Web Lock to hold for life: the parent knows a terminated worker is gone when it is free. */
  lock: string | null;
}

interface LockManager {
  request(name: string, callback: () => Promise<void>): Promise<void>;
}

/** Takes the lock `name` and holds it until this worker ends. */
function holdForLife(name: string): Promise<void> {
  const locks = (navigator as unknown as { locks?: LockManager }).locks;
  if (!locks) return Promise.resolve();
  return new Promise((granted) => {
    locks.request(name, () => {
      granted();
      return new Promise<void>(() => {});
    }).catch(() => granted());
  });
}

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  [PAGE_INFO]?: PageInfo;
};

const start = new Promise<WorkerStart>((resolve) => {
  scope.onmessage = (event) => {
    scope.onmessage = null;
    resolve(event.data as WorkerStart);
  };
});

(async () => {
  const { bootstrap, shared, page, broker, lock } = await start;
  if (lock) await holdForLife(lock);
  scope[PAGE_INFO] = page;
  if (broker) (await import("../adapters/message_port.ts")).joinHub(broker);
  await import("../install.ts");
  const { runChild } = await import("../core/_child.ts");
  await runChild(bootstrap, shared);
})();
