/**
 * The mutual HMAC-SHA256 challenge every connection runs before anything
 * else is read: each side sends 32 random bytes and checks that the other
 * answers with their HMAC under the shared `authkey` (as CPython's
 * `deliver_challenge` / `answer_challenge`, both ways).
 *
 * @module
 */

import { AuthenticationError } from "../errors.ts";

const CHALLENGE = new TextEncoder().encode("#CHALLENGE#");
const WELCOME = new TextEncoder().encode("#WELCOME#");
const FAILURE = new TextEncoder().encode("#FAILURE#");
const READY = new TextEncoder().encode("#READY#");

/** Frames exchanged during the handshake are never larger than this. */
export const HANDSHAKE_MAX_FRAME = 256;

/** The two operations the handshake needs from a framed connection. */
export interface HandshakeIO {
  sendFrame(payload: Uint8Array): void;
  recvFrame(): Promise<Uint8Array>;
}

async function hmac(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  // WebCrypto refuses an empty HMAC key; HMAC pads short keys with zeros, so
  // 64 zero bytes is the same key and gives the same digest.
  const raw = key.byteLength === 0 ? new Uint8Array(64) : key;
  const k = await crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", k, message as Uint8Array<ArrayBuffer>),
  );
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  return a.byteLength >= prefix.byteLength &&
    equal(a.subarray(0, prefix.byteLength), prefix);
}

async function deliverChallenge(io: HandshakeIO, key: Uint8Array): Promise<void> {
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const message = new Uint8Array(CHALLENGE.byteLength + 32);
  message.set(CHALLENGE);
  message.set(nonce, CHALLENGE.byteLength);
  io.sendFrame(message);
  const expected = await hmac(key, nonce);
  const answer = await io.recvFrame();
  if (!equal(answer, expected)) {
    io.sendFrame(FAILURE);
    throw new AuthenticationError(
      "Digest received was wrong: the peer does not know this authkey",
    );
  }
  io.sendFrame(WELCOME);
}

async function answerChallenge(io: HandshakeIO, key: Uint8Array): Promise<void> {
  const message = await io.recvFrame();
  if (!startsWith(message, CHALLENGE) || message.byteLength !== CHALLENGE.byteLength + 32) {
    throw new AuthenticationError("Peer did not start with a challenge");
  }
  io.sendFrame(await hmac(key, message.subarray(CHALLENGE.byteLength)));
  const verdict = await io.recvFrame();
  if (!equal(verdict, WELCOME)) {
    throw new AuthenticationError(
      "Digest sent was rejected: the peer expects a different authkey",
    );
  }
}

/**
 * The accepting side: challenge first (so it never answers a stranger's
 * challenge, which would let it be used to prove the key elsewhere), then
 * answer, then say it is ready.
 */
export async function serverHandshake(io: HandshakeIO, key: Uint8Array): Promise<void> {
  await deliverChallenge(io, key);
  await answerChallenge(io, key);
  io.sendFrame(READY);
}

/**
 * The connecting side: answer first, then challenge, then wait until the
 * server is ready, so nothing it sends next can reach the server while the
 * server is still in the challenge (where frames are capped at 256 bytes).
 */
export async function clientHandshake(io: HandshakeIO, key: Uint8Array): Promise<void> {
  await answerChallenge(io, key);
  await deliverChallenge(io, key);
  if (!equal(await io.recvFrame(), READY)) {
    throw new AuthenticationError("The server did not confirm the end of the challenge");
  }
}
