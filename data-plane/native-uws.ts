/**
 * uWebSockets.js, native or not at all. The package's own entry silently falls back to a slow
 * Node.js implementation when its binary does not load; a redirect node must never serve on that,
 * so the binary for this platform/ABI is required directly.
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';

export type UwsModule = typeof Uws;

export class NativeUwsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NativeUwsError';
  }
}

export function nativeBinaryName(): string {
  return `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
}

/** Loads the native uWS binary or throws a NativeUwsError that says what to do. */
export function loadNativeUws(binary = `uWebSockets.js/binaries/${nativeBinaryName()}`): UwsModule {
  const require = createRequire(import.meta.url);
  let mod: unknown;
  try {
    mod = require(binary);
  } catch (cause) {
    throw new NativeUwsError(
      `uWebSockets.js native binary ${binary} did not load on Node ${process.version} (${process.platform}/${process.arch}, ABI ${process.versions.modules}). ` +
        'The redirect node refuses to run on the JS fallback. Use a Node.js version the installed uWebSockets.js ships a binary for (Node 18/20/22 LTS on linux/darwin/win32 x64 or arm64) and reinstall dependencies.',
      { cause },
    );
  }
  const m = mod as Partial<UwsModule>;
  if (typeof m.App !== 'function' || typeof m.us_listen_socket_close !== 'function') {
    throw new NativeUwsError(`${binary} loaded but is not uWebSockets.js (no App / us_listen_socket_close)`);
  }
  return mod as UwsModule;
}
