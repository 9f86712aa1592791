/**
 * Who this process (or worker) is: its name, identity, keys and parent.
 * Filled with "MainProcess" defaults in the main program and from the
 * bootstrap in a child.
 *
 * @module
 */

import type { StartMethod } from "./host.ts";
import { getHost } from "./host.ts";

/** What a child knows of its parent. */
export interface ParentInfo {
  readonly name: string;
  readonly pid: number;
  readonly ident: number;
  readonly address: string;
}

/** The current process's state. */
export interface ProcessState {
  name: string;
  /** `[1, 2]` for the second child of the first child of the main process. */
  identity: number[];
  /** How many Process objects this process has created. */
  counter: number;
  authkey: Uint8Array;
  /** The key every node of this process tree proves on its private sockets. */
  nodeKey: Uint8Array;
  daemon: boolean;
  pid: number;
  ident: number;
  /** How this process was started; null in the main program. */
  startMethod: StartMethod | null;
  parent: ParentInfo | null;
}

let state: ProcessState | undefined;

/** The current process's state, made on first use in the main program. */
export function processState(): ProcessState {
  if (!state) {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const pid = getHost().pid;
    state = {
      name: "MainProcess",
      identity: [],
      counter: 0,
      authkey: key,
      nodeKey: key,
      daemon: false,
      pid,
      ident: pid,
      startMethod: null,
      parent: null,
    };
  }
  return state;
}

/** Sets the state of a child from its bootstrap (before any user code runs). */
export function setProcessState(s: ProcessState): void {
  state = s;
}
