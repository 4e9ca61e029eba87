import { describe, expect, it } from 'vitest';
import { loadNativeUws, NativeUwsError, nativeBinaryName } from './native-uws.js';

describe('loadNativeUws', () => {
  it('loads the native binary for this platform', () => {
    const uws = loadNativeUws();
    expect(typeof uws.App).toBe('function');
    expect(nativeBinaryName()).toBe(`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  });

  it('refuses (never falls back to the JS implementation) when the binary does not load', () => {
    expect(() => loadNativeUws('uWebSockets.js/binaries/uws_plan9_mips_1.node')).toThrow(NativeUwsError);
    expect(() => loadNativeUws('uWebSockets.js/binaries/uws_plan9_mips_1.node')).toThrow(/refuses to run on the JS fallback/);
  });

  it('refuses a module that is not uWebSockets.js (e.g. its JS fallback)', () => {
    expect(() => loadNativeUws('uWebSockets.js/dist/http-router.js')).toThrow(NativeUwsError);
  });
});
