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
  _threads?: Set<unknown>;
}

export interface FuseNativeClass {
  new (mnt: string, ops: Record<string, unknown>, opts: FuseNativeOptions): FuseNativeInstance;
  unmount(mnt: string, cb: (err: Error | null) => void): void;
  PAN123FS_PATCH?: string;
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
}

export interface LoadedFuse {
  Fuse: FuseNativeClass;
  info: BindingInfo;
  native: Record<string, unknown>;
}

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
  };
  cached = { Fuse, info, native };
  return cached;
}

/** One line for the startup log / `doctor`. */
export function describeBinding(info: BindingInfo): string {
  if (info.kind === 'source' && info.nativePatched)
    return `fuse-native: source build with pan123fs patch (${info.file})`;
  return (
    `fuse-native: ${info.kind} binary WITHOUT the pan123fs native patch (${info.file}): per-thread handles leak ` +
    'and utimens mtime is wrong; install libfuse-dev build-essential pkg-config and run `npm run postinstall`'
  );
}
