/**
 * What a web page's program and its workers print, brought to the page in
 * the order it was printed, as a terminal shows the output of a process tree.
 *
 * A worker's `console` goes to the devtools, not to the page, so the
 * library forwards it. With shared memory (a cross-origin-isolated page),
 * every thread of the tree appends to one ring in a `SharedArrayBuffer`
 * the moment it prints (a writer that finds it full waits, as a process
 * writing to a full pipe does), and the root thread (the page, or whichever
 * thread loaded the library as a main program) drains it: a line a child
 * printed before sending a message is delivered before anything the root
 * prints once that message arrived. Without shared memory each worker posts
 * its lines to its parent, which passes them on (ordered per worker).
 *
 * The root delivers each line to a sink ({@linkcode captureOutput}) or, by
 * default, to its own `console.log` / `console.error`.
 *
 * @module
 */

import { formatArgs } from "./_format.ts";
import { RuntimeError } from "../core/errors.ts";

/** Which of a terminal's two streams a line belongs to. */
export type OutputStream = "stdout" | "stderr";

/** Where the root thread delivers what the tree printed: one console call's text, and its stream. */
export type OutputSink = (text: string, stream: OutputStream) => void;

/** A line posted to the parent thread, when there is no ring (see {@linkcode isForwardedOutput}). */
export interface ForwardedOutput {
  readonly "@procs/output": [OutputStream, string];
}

const LOCK = 0;
/** Where the next record starts (bytes, modulo the capacity). */
const HEAD = 1;
/** Bytes written and not yet drained. */
const USED = 2;
/** Counts records written: the root waits on it. */
const SEQ = 3;
const HEADER_BYTES = 16;
/** The ring's capacity: a writer waits once this much is undelivered. */
export const OUTPUT_RING_BYTES = 1024 * 1024;
/** A record: its length (4 bytes), a flags byte, the UTF-8 text. */
const RECORD_HEADER = 5;
const STDERR = 1;
/** More of the same line follows in the next record (a text larger than a record). */
const CONTINUED = 2;
const MAX_TEXT = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface OutputState {
  ring: SharedArrayBuffer | null;
  /** The root thread delivers; a worker writes (to the ring or to its parent). */
  root: boolean;
  sink: OutputSink | null;
  /** The console as it was before this module touched it. */
  console: { log(...args: unknown[]): void; error(...args: unknown[]): void };
  draining: boolean;
  /** A line begun in a record marked CONTINUED, per stream. */
  partial: Record<OutputStream, string>;
}

let state: OutputState | null = null;

function current(): OutputState {
  if (!state) {
    throw new RuntimeError(
      "captureOutput() is for a web page: on Deno and Bun, children print to the process's own " +
        "stdout and stderr (capture those with the shell or the subprocess API instead)",
    );
  }
  return state;
}

/** A new ring for a tree's output (the root makes it; its workers get it at start). */
export function newOutputRing(): SharedArrayBuffer | null {
  const canShare = typeof SharedArrayBuffer === "function" &&
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return canShare ? new SharedArrayBuffer(HEADER_BYTES + OUTPUT_RING_BYTES) : null;
}

/**
 * Sets up this thread's output: the root delivers (and drains `ring`), a
 * worker's `console` writes to `ring`, or posts to its parent through
 * `postToParent` when there is no ring.
 */
export function setUpOutput(
  ring: SharedArrayBuffer | null,
  root: boolean,
  postToParent?: (message: ForwardedOutput) => void,
): void {
  const original = { log: console.log.bind(console), error: console.error.bind(console) };
  state = {
    ring,
    root,
    sink: null,
    console: original,
    draining: false,
    partial: { stdout: "", stderr: "" },
  };
  if (root) {
    if (!ring) return;
    // The root's own lines go to its console as they are (the devtools show
    // objects), after whatever the workers printed before them.
    const c = console as unknown as Record<string, (...args: unknown[]) => void>;
    for (const name of ["log", "info", "debug", "dir", "warn", "error"]) {
      const method = c[name].bind(console);
      c[name] = (...args: unknown[]) => {
        drainOutput();
        method(...args);
      };
    }
    watchRing(ring);
    return;
  }
  const print = (stream: OutputStream) => (...args: unknown[]) => {
    const text = formatArgs(args);
    if (ring) writeRecord(ring, stream, text);
    else postToParent?.({ "@procs/output": [stream, text] });
  };
  patchConsole(print);
}

/** Whether a worker's message is a line it printed (posted when there is no ring). */
export function isForwardedOutput(data: unknown): data is ForwardedOutput {
  return typeof data === "object" && data !== null && "@procs/output" in data;
}

/** Writes `text` (one console call, no trailing newline) as this thread's output. */
export function writeOutput(stream: OutputStream, text: string): void {
  const s = current();
  if (s.root) {
    drainOutput();
    deliver(s, stream, text);
  } else {
    (stream === "stderr" ? console.error : console.log)(text);
  }
}

/** Delivers at once everything the tree's workers wrote to the ring (the root only). */
export function drainOutput(): void {
  const s = state;
  if (!s?.root || !s.ring || s.draining) return;
  s.draining = true;
  try {
    for (const [flags, text] of takeRecords(s.ring)) {
      const stream: OutputStream = flags & STDERR ? "stderr" : "stdout";
      if (flags & CONTINUED) {
        s.partial[stream] += text;
        continue;
      }
      const whole = s.partial[stream] + text;
      s.partial[stream] = "";
      deliver(s, stream, whole);
    }
  } finally {
    s.draining = false;
  }
}

/**
 * Sends everything this thread (the one that runs the main program in a
 * web page) and its workers print to `sink`, in the order it was printed,
 * each console call as one `text` formatted as Deno prints it (no trailing
 * newline); returns a function that delivers what is left and puts the
 * console back.
 *
 * @throws {RuntimeError} outside a web page, or in one of the library's workers
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { captureOutput } from "@procs/multiprocessing/browser";
 *
 * // In a page: const restore = captureOutput((text, stream) => show(text, stream));
 * // Outside one, children print to the process's own stdout: nothing to capture.
 * assert.throws(() => captureOutput(() => {}), /is for a web page/);
 * ```
 */
export function captureOutput(sink: OutputSink): () => void {
  const s = current();
  if (!s.root) {
    throw new Error("captureOutput() is for the thread that runs the main program, not a child");
  }
  drainOutput();
  const saved = saveConsole();
  s.sink = sink;
  patchConsole((stream) => (...args: unknown[]) => writeOutput(stream, formatArgs(args)));
  return () => {
    drainOutput();
    if (s.sink === sink) s.sink = null;
    restoreConsole(saved);
  };
}

function deliver(s: OutputState, stream: OutputStream, text: string): void {
  if (s.sink) s.sink(text, stream);
  else (stream === "stderr" ? s.console.error : s.console.log)(text);
}

type Methods = Record<"log" | "info" | "debug" | "warn" | "error" | "dir", unknown>;

function saveConsole(): Methods {
  const c = console as unknown as Methods;
  return { log: c.log, info: c.info, debug: c.debug, warn: c.warn, error: c.error, dir: c.dir };
}

function restoreConsole(saved: Methods): void {
  Object.assign(console, saved);
}

function patchConsole(print: (stream: OutputStream) => (...args: unknown[]) => void): void {
  const out = print("stdout");
  const err = print("stderr");
  Object.assign(console, {
    log: out,
    info: out,
    debug: out,
    dir: (value: unknown) => out(value),
    warn: err,
    error: err,
  });
}

function lock(control: Int32Array, mayBlock: boolean): void {
  while (Atomics.compareExchange(control, LOCK, 0, 1) !== 0) {
    // Held for a copy of a few bytes; a worker may sleep, a page must not.
    if (mayBlock) Atomics.wait(control, LOCK, 1, 1);
  }
}

function unlock(control: Int32Array): void {
  Atomics.store(control, LOCK, 0);
  Atomics.notify(control, LOCK, 1);
}

/** Appends one console call's text; a worker waits while the ring is full. */
function writeRecord(ring: SharedArrayBuffer, stream: OutputStream, text: string): void {
  const control = new Int32Array(ring, 0, 4);
  const data = new Uint8Array(ring, HEADER_BYTES);
  for (let at = 0; at < text.length || at === 0; at += MAX_TEXT) {
    const piece = text.slice(at, at + MAX_TEXT);
    const more = at + MAX_TEXT < text.length;
    const bytes = encoder.encode(piece);
    const header = new Uint8Array(RECORD_HEADER);
    new DataView(header.buffer).setUint32(0, bytes.byteLength);
    header[4] = (stream === "stderr" ? STDERR : 0) | (more ? CONTINUED : 0);
    const size = RECORD_HEADER + bytes.byteLength;
    for (;;) {
      lock(control, true);
      const used = control[USED];
      if (used + size <= data.byteLength) {
        let head = control[HEAD];
        head = copyIn(data, head, header);
        head = copyIn(data, head, bytes);
        control[HEAD] = head;
        control[USED] = used + size;
        unlock(control);
        Atomics.add(control, SEQ, 1);
        Atomics.notify(control, SEQ);
        break;
      }
      unlock(control);
      // Full: wait for the root to drain (it notifies USED), as a pipe's writer does.
      Atomics.wait(control, USED, used, 50);
    }
    if (!more) break;
  }
}

function copyIn(data: Uint8Array, head: number, bytes: Uint8Array): number {
  const first = Math.min(bytes.byteLength, data.byteLength - head);
  data.set(bytes.subarray(0, first), head);
  if (first < bytes.byteLength) data.set(bytes.subarray(first), 0);
  return (head + bytes.byteLength) % data.byteLength;
}

function copyOut(data: Uint8Array, from: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const first = Math.min(length, data.byteLength - from);
  out.set(data.subarray(from, from + first));
  if (first < length) out.set(data.subarray(0, length - first), first);
  return out;
}

/** Takes every record out of the ring (the root thread). */
function takeRecords(ring: SharedArrayBuffer): [number, string][] {
  const control = new Int32Array(ring, 0, 4);
  const data = new Uint8Array(ring, HEADER_BYTES);
  lock(control, false);
  const used = control[USED];
  if (used === 0) {
    unlock(control);
    return [];
  }
  const start = (control[HEAD] - used + data.byteLength) % data.byteLength;
  const bytes = copyOut(data, start, used);
  control[USED] = 0;
  unlock(control);
  Atomics.notify(control, USED);
  const records: [number, string][] = [];
  const view = new DataView(bytes.buffer);
  for (let at = 0; at < bytes.byteLength;) {
    const length = view.getUint32(at);
    const flags = bytes[at + 4];
    records.push([
      flags,
      decoder.decode(bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length)),
    ]);
    at += RECORD_HEADER + length;
  }
  return records;
}

/** The root drains the ring whenever a worker writes to it. */
function watchRing(ring: SharedArrayBuffer): void {
  const control = new Int32Array(ring, 0, 4);
  const waitAsync = (Atomics as unknown as {
    waitAsync?: (
      a: Int32Array,
      i: number,
      v: number,
    ) => { async: boolean; value: Promise<unknown> | string };
  }).waitAsync;
  const loop = (): void => {
    const seen = Atomics.load(control, SEQ);
    drainOutput();
    if (waitAsync) {
      const result = waitAsync(control, SEQ, seen);
      if (result.async) (result.value as Promise<unknown>).then(loop);
      else queueMicrotask(loop);
    } else setTimeout(loop, 10);
  };
  loop();
}
