/**
 * Wires the core to the runtime it runs on: detects the host and installs
 * it, and teaches the codec the library's error classes and the host's resources.
 *
 * @module
 */

import { detectHost } from "./adapters/detect.ts";
import { installHost } from "./core/host.ts";
import { localEndpoint } from "./core/_wire/endpoint.ts";
import { registerErrorClasses } from "./core/_wire/codec.ts";
import { LIBRARY_ERRORS } from "./core/errors.ts";
import { registerResourceCheck } from "./core/_wire/resources.ts";

// Top-level await: the host module for this runtime is imported on demand.
const host = await detectHost(() => localEndpoint().privateDir);
installHost(host);
registerErrorClasses(LIBRARY_ERRORS);
registerResourceCheck((value) => host.resourceKind(value));
