// The addon build's per-OS environment: on macOS (untested on a Mac) pkg-config also searches macFUSE's
// pkgconfig dir; on Linux the environment is left as it is.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without types
import { buildEnv, installHint } from '../../../scripts/macfuse-env.mjs';

describe('build-fuse-native environment', () => {
  it('adds macFUSE pkgconfig dir on macOS once, after what the user set', () => {
    expect(buildEnv('darwin', { PKG_CONFIG_PATH: '/opt/homebrew/lib/pkgconfig' }).PKG_CONFIG_PATH).toBe(
      '/opt/homebrew/lib/pkgconfig:/usr/local/lib/pkgconfig',
    );
    expect(buildEnv('darwin', { PKG_CONFIG_PATH: '/usr/local/lib/pkgconfig' }).PKG_CONFIG_PATH).toBe(
      '/usr/local/lib/pkgconfig',
    );
    expect(buildEnv('darwin', {}).PKG_CONFIG_PATH).toBe('/usr/local/lib/pkgconfig');
  });

  it('leaves Linux alone and names the right packages per OS', () => {
    const env = { PATH: '/usr/bin' };
    expect(buildEnv('linux', env)).toBe(env);
    expect(installHint('linux')).toContain('libfuse3-dev');
    expect(installHint('darwin')).toContain('macfuse');
  });
});
