// Where the FUSE addon's build finds libfuse 3 on each OS (used by build-fuse-native.mjs; pure, so a unit
// test runs the macOS answer on Linux). macOS is UNTESTED: macFUSE (4.10+ ships libfuse 3) installs its
// fuse3.pc under /usr/local/lib/pkgconfig, which Homebrew's pkg-config on Apple silicon does not search.

/** Extra pkg-config search dirs for macFUSE. */
export const MACFUSE_PKG_CONFIG_DIRS = ['/usr/local/lib/pkgconfig'];

/** The environment for pkg-config and node-gyp on `platform`, given the current one. */
export function buildEnv(platform, env) {
  if (platform !== 'darwin') return env;
  const have = (env.PKG_CONFIG_PATH ?? '').split(':').filter(Boolean);
  const dirs = [...have, ...MACFUSE_PKG_CONFIG_DIRS.filter((d) => !have.includes(d))];
  return { ...env, PKG_CONFIG_PATH: dirs.join(':') };
}

/** How to get libfuse 3 and a toolchain on `platform`, as one line. */
export function installHint(platform) {
  return platform === 'darwin'
    ? 'brew install --cask macfuse && brew install pkg-config (macFUSE 4.10+ ships libfuse 3; Xcode tools)'
    : 'apt-get install -y libfuse3-dev fuse3 build-essential pkg-config';
}
