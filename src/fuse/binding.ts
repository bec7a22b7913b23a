// Loads fuse-native (the only place in the project that does) and reports which native binary is in use:
// our source build in node_modules/fuse-native/build/Release (patched, see patches/fuse-native+2.2.6.patch)
// or the upstream prebuilt (unpatched: leaks per-thread handles, wrong utimens mtime).
// node-gyp-build prefers build/Release over prebuilds/, so a successful source build always wins.

import { createRequire } from 'node:module';
import path from 'node:path';

/** The callback protocol: a number first (0, a byte count, or -errno), then the op's result. */
export type FuseCb = (code: number, ...result: unknown[]) => void;

export interface FuseNativeOptions {
  [key: string]: unknown;
  timeout?: number | false | Record<string, number | false>;
  extraOptions?: string[];
}

export interface FuseNativeInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
  /** added by our patch: live per-thread states (each owns one uv_async_t) */
  threadStats?: () => { allocated: number; free: number; inUse: number } | null;
  /** libfuse 3 port: what init negotiated (null before init) */
  connInfo?: () => ConnInfo | null;
  /** libfuse 3 port: drop the kernel's cached attributes and pages of a path; cb(0 | -errno) */
  invalidate?: (path: string, cb: (res: number) => void) => void;
  _threads?: Set<unknown>;
}

export interface ConnInfo {
  protoMajor: number;
  protoMinor: number;
  maxWrite: number;
  maxRead: number;
  maxReadahead: number;
  maxBackground: number;
  capable: number;
  want: number;
}

export interface FuseNativeClass {
  new (mnt: string, ops: Record<string, unknown>, opts: FuseNativeOptions): FuseNativeInstance;
  unmount(mnt: string, cb: (err: Error | null) => void): void;
  PAN123FS_PATCH?: string;
  /** added by our patch (libfuse 3 port) */
  libfuseVersion?: () => number;
}

export interface BindingInfo {
  /** 'source': built here against the system libfuse; 'prebuilt': upstream's binary. */
  kind: 'source' | 'prebuilt';
  /** the .node file node-gyp-build picked */
  file: string;
  /** the native part of our patch is present (thread-state reuse, utimens mtime, fgetattr) */
  nativePatched: boolean;
  /** the JS part of our patch is present (extraOptions, timeouts of 0, fgetattr) */
  jsPatched: boolean;
  /** open's answer sets keep_cache / direct_io per open (patch 8: the binding exports open_cache_flags) */
  openCacheFlags: boolean;
  /** read answers with views the worker thread copies (patch 10: the binding exports read_views_max) */
  readViews: boolean;
  /** fuse_version() of the libfuse the binary runs on: 314 = 3.14; 29 = upstream's prebuilt on libfuse 2.9 */
  libfuse: number;
}

export interface LoadedFuse {
  Fuse: FuseNativeClass;
  info: BindingInfo;
  native: Record<string, unknown>;
}

/** Views one read answer may carry (fuse-native.c READ_VIEWS_MAX); more are joined into one buffer. */
export const READ_VIEWS_MAX = 16;

let cached: LoadedFuse | undefined;

export function loadFuseNative(): LoadedFuse {
  if (cached) return cached;
  const req = createRequire(import.meta.url);
  const Fuse = req('fuse-native') as FuseNativeClass;
  const dir = path.dirname(req.resolve('fuse-native/package.json'));
  const gypBuild = createRequire(path.join(dir, 'index.js'))('node-gyp-build') as { path(dir: string): string };
  const file = gypBuild.path(dir);
  const native = req(file) as Record<string, unknown>;
  const info: BindingInfo = {
    kind: file.includes(`${path.sep}build${path.sep}`) ? 'source' : 'prebuilt',
    file,
    nativePatched: typeof native.fuse_native_thread_stats === 'function',
    jsPatched: typeof Fuse.PAN123FS_PATCH === 'string',
    openCacheFlags: native.open_cache_flags === 3 && Number(Fuse.PAN123FS_PATCH) >= 4,
    readViews: native.read_views_max === READ_VIEWS_MAX && Number(Fuse.PAN123FS_PATCH) >= 5,
    libfuse:
      typeof native.fuse_native_libfuse_version === 'function'
        ? (native.fuse_native_libfuse_version as () => number)()
        : 29,
  };
  cached = { Fuse, info, native };
  return cached;
}

/** fuse_version(): major * 100 + minor on libfuse 3 (314), major * 10 + minor on libfuse 2 (29). */
export function libfuseVersionString(v: number): string {
  return v >= 300 ? `${Math.floor(v / 100)}.${v % 100}` : `${Math.floor(v / 10)}.${v % 10}`;
}

/** The libfuse major version of a binary (fuse_version() value). */
export function libfuseMajor(v: number): 2 | 3 {
  return v >= 300 ? 3 : 2;
}

/** One line for the startup log / `doctor`. */
export function describeBinding(info: BindingInfo): string {
  const lib = `libfuse ${libfuseVersionString(info.libfuse)}`;
  if (info.kind === 'source' && info.nativePatched)
    return `fuse-native: source build with pan123fs patch on ${lib} (${info.file})`;
  return (
    `fuse-native: ${info.kind} binary on ${lib} WITHOUT the pan123fs native patch (${info.file}): per-thread ` +
    'handles leak, utimens mtime is wrong, requests stay at 128 KiB; install libfuse3-dev fuse3 build-essential ' +
    'pkg-config and run `npm run postinstall`'
  );
}
