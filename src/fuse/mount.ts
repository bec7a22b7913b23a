// Mounting: preflight checks with actionable errors, the libfuse option list, the per-op timeout table,
// read-ahead tuning, external-unmount detection and stale-mount cleanup. OS specifics (finding a mount,
// unmounting, read-ahead, macFUSE options, the FUSE device) come from src/platform.
// Invariants: nothing here blocks the event loop or touches the mountpoint synchronously (the daemon
// serves that mountpoint: a sync call would deadlock); child processes are async execFile.

import { promises as fsp } from 'node:fs';
import { constants as osc } from 'node:os';
import path from 'node:path';
import { DEFAULTS } from '../core/defaults.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Vfs } from '../vfs/types.js';
import type { FuseNativeInstance } from './binding.js';
import { describeBinding, libfuseMajor, loadFuseNative } from './binding.js';
import { trackMount, untrackMount } from './crash-guard.js';
import { startMemoryTrim, type MemoryTrimStats } from './memory-trim.js';
import { makeFuseOps } from './ops.js';
import { KernelPaths } from './kernel-paths.js';
import { RequestStats, type RequestStatsSnapshot } from './request-stats.js';
import { currentPlatform, type MountEntry, type Platform } from '../platform/index.js';

export interface FuseMountOptions {
  readOnly?: boolean;
  /** let other users see the mount (non-root needs user_allow_other in /etc/fuse.conf) */
  allowOther?: boolean;
  uid?: number;
  gid?: number;
  /** e.g. 0o022 */
  umask?: number;
  /** kernel attribute cache, seconds; 0 = ask the daemon on every stat (costs ~57 µs each) */
  attrTimeoutSec?: number;
  entryTimeoutSec?: number;
  negativeTimeoutSec?: number;
  fsName?: string;
  /** libfuse debug output on stderr */
  debug?: boolean;
  /**
   * libfuse 3 idle workers kept between bursts (default MAX_THREADS: never retire). Tests set it low so
   * workers retire and the thread-state free-list is exercised.
   */
  maxIdleThreads?: number;
}

export interface FuseMount {
  mountpoint: string;
  unmount(): Promise<void>;
  /** malloc_trim calls after collections, and how many released memory (memory-trim.ts) */
  trimStats(): MemoryTrimStats;
  /** called once when the mount disappears without unmount() (e.g. `fusermount -u` from outside) */
  onExternalUnmount(cb: () => void): void;
  /** the backing device's bdi name (maj:min) when known */
  bdi?: string;
  /** fuse-native's per-thread states (each owns a uv_async_t); flat over time once the patch is in */
  threadStats(): ThreadStats;
  /** kernel requests answered (per op; read/write sizes) and what libfuse 3 negotiated at init */
  requestStats(): FuseRequestStats;
  /**
   * Drop the kernel's cached attributes, entries' attributes and pages for these paths (libfuse 3:
   * fuse_invalidate_path, off the main thread). Resolves how many the kernel held; 0 on libfuse 2.
   */
  invalidate(paths: readonly string[]): Promise<number>;
  /**
   * The same for remote changes a listing found (vfs/ports.ts KernelCachePort): queued, one path at a time,
   * so an invalidation waiting for a kernel lock (a read or lookup of that file in flight) holds one libuv
   * pool thread, never all of them (the disk cache's reads need the others to answer that request).
   */
  invalidateQueued(paths: readonly string[]): void;
  /** `dir` and the paths the kernel may hold directly in it (or anywhere below it, `recursive`) */
  kernelPaths(dir: string, recursive: boolean): string[];
}

export interface FuseRequestStats extends RequestStatsSnapshot {
  /** libfuse version (fuse_version(): 314 = 3.14) */
  libfuse: number;
  /** negotiated at init (libfuse 3 only): largest write request, read-ahead, background requests */
  conn?: { protoMinor: number; maxWrite: number; maxReadahead: number; maxBackground: number };
}

export interface ThreadStats {
  /** states ever allocated and still alive (unpatched: grows with every retired libfuse thread) */
  allocated: number;
  /** states parked on the patch's free-list for reuse (undefined without the native patch) */
  free?: number;
  source: 'native' | 'js';
}

export type MountErrorCode =
  | 'NO_DEV_FUSE'
  | 'NO_FUSERMOUNT'
  | 'MOUNTPOINT_MISSING'
  | 'NOT_A_DIRECTORY'
  | 'NOT_EMPTY'
  | 'ALREADY_MOUNTED'
  | 'MOUNT_FAILED';

/** A mount that could not be made; the message is one line that says what to do. */
export class MountError extends Error {
  constructor(
    readonly code: MountErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'MountError';
  }
}

/**
 * fuse-native's per-op timeout (ms; it answers ETIMEDOUT after it, default 15 s). The Vfs call keeps
 * running; only the kernel request is released. Each value is the longest a healthy request may take.
 */
export const OP_TIMEOUTS_MS: Readonly<Record<string, number>> = {
  default: 30_000, // metadata (getattr, access, statfs, opendir…): cache or one API call; fail rather than hang ls
  readdir: 120_000, // a large directory pages through the list API under its QPS limit
  mkdir: 60_000,
  rmdir: 60_000,
  unlink: 60_000,
  rename: 60_000, // one or two API calls with retry/backoff
  create: 60_000,
  truncate: 60_000,
  ftruncate: 60_000,
  utimens: 60_000,
  chmod: 60_000,
  chown: 60_000,
  open: 600_000, // opening a remote file for writing without O_TRUNC downloads it into staging first
  read: 120_000, // a ranged GET with retries and a download-link refresh
  write: 600_000, // local staging write; may wait for uploads (--staging-max-size: STAGING_WAIT_MS is 9 min)
  flush: 120_000,
  release: 120_000, // enqueue the upload; never wait for it
  fsync: 600_000, // waits for the upload to commit (callers that need durability)
  copy_file_range: 120_000, // a server-side copy: one or two API calls, and a wait for an upload holding the name
};

/**
 * Kernel read-ahead for the mount (the bdi's read_ahead_kb; the kernel default is 128 KiB). It also caps the
 * READ request size: the kernel sends at most one read-ahead window per request. 1024 KiB = one 1 MiB
 * request (libfuse 3's max_pages) at a time per stream; the daemon's own read window does the network
 * prefetch, so kernel requests are mostly answered from memory. Measured on libfuse 3 (512 MiB from memory,
 * dd bs=1M, 3 runs each, shared 2-core box): 512 KiB 753-987 MiB/s at 0.60-0.80 daemon CPU-s/GiB in 512 KiB
 * requests; 1024 KiB 1,180-1,590 MiB/s at 0.32-0.38; 2048 617-906 at 0.46-0.50; 4096 615-1,330 at 0.42-0.54.
 * (libfuse 2: 512 KiB was best with 128 KiB requests, docs/READ-PATH.md "Kernel read-ahead".)
 */
export const READ_AHEAD_KB = 1024;
/** The libfuse 2 fallback's window (128 KiB requests): 512 KiB measured best there. */
const READ_AHEAD_KB_LIBFUSE2 = 512;
/** External-unmount poll period: quick enough for a human, cheap (one small procfs read). */
const MOUNT_POLL_MS = 1500;

/** libfuse 3: the largest READ/WRITE request (the kernel's max_pages follows max_write). */
export const MAX_REQUEST_BYTES = 1 << 20;
/**
 * libfuse 3 worker threads (libfuse >= 3.12 caps them at 10 unless told). Each blocked worker is one
 * request in flight in JS, so this bounds the daemon's concurrency like max_background does the kernel's
 * (requests beyond it wait in the kernel's queue). Each worker keeps a 1 MiB receive buffer (resident once a
 * 1 MiB WRITE came through it) and mallocs each READ's reply in its own arena: 64 workers held 60 MiB of
 * arenas under issue 19's load (8 readers + 4 writers), 16 hold 30 MiB.
 * max_idle_threads = max_threads: a burst never retires threads it will need again a moment later.
 */
export const MAX_THREADS = 16;

/**
 * The libfuse -o list. `libfuse` is the major version of the loaded binary: 3 for our source build, 2
 * for upstream's prebuilt fallback (which knows big_writes and none of the libfuse 3 options).
 * Exported for tests and docs/FUSE.md.
 */
export function buildMountOptions(
  o: FuseMountOptions,
  libfuse: 2 | 3 = 3,
  platform: Platform = currentPlatform(),
  perOpenCache = libfuse === 3,
  readViews = false,
): string[] {
  const sec = (v: number | undefined, dflt: number) => String(v ?? dflt);
  const requests =
    libfuse === 3
      ? [
          `max_write=${MAX_REQUEST_BYTES}`, // 1 MiB READ/WRITE requests (max_pages=256): 8x fewer JS round trips
          `max_threads=${MAX_THREADS}`,
          `max_idle_threads=${o.maxIdleThreads ?? MAX_THREADS}`,
          // READDIRPLUS for every readdir call, not only the first ("auto"): ls reads the whole folder before
          // it stats, so with auto only the first ~200 entries carried attributes and the rest cost a LOOKUP each
          'readdirplus=yes',
          // reads answered with views of the cached blocks, copied into the reply by the libfuse worker:
          // the main thread, which limits a stream, no longer copies each reply (docs/FUSE.md)
          ...(readViews ? ['read_views'] : []),
        ]
      : ['big_writes']; // libfuse 2: 128 KiB write requests instead of 4 KiB (17x faster writes)
  const opts = [
    `fsname=${o.fsName ?? 'pan123fs'}`,
    'subtype=pan123fs',
    ...requests,
    'max_background=64',
    'congestion_threshold=48', // many async reads in flight with large read-ahead
    // per open (ops.ts openAnswer): keep_cache when the file's id and MD5 are those the kernel cached; a binding
    // that cannot say so keeps auto_cache (pages kept across opens unless mtime or size changed)
    ...(perOpenCache ? [] : ['auto_cache']),
    `attr_timeout=${sec(o.attrTimeoutSec, DEFAULTS.attrTimeoutSec)}`,
    `entry_timeout=${sec(o.entryTimeoutSec, DEFAULTS.attrTimeoutSec)}`,
    `negative_timeout=${sec(o.negativeTimeoutSec, 1)}`,
    'auto_unmount', // a fusermount helper unmounts if the daemon dies (even SIGKILL)
    'use_ino', // our inode numbers (meta row ids) are stable
    'default_permissions', // the kernel checks mode bits; the Vfs does not
  ];
  if (o.allowOther) opts.push('allow_other');
  if (o.readOnly) opts.push('ro');
  if (o.uid !== undefined) opts.push(`uid=${o.uid}`);
  if (o.gid !== undefined) opts.push(`gid=${o.gid}`);
  if (o.umask !== undefined) opts.push(`umask=${o.umask.toString(8)}`); // libfuse parses umask as octal
  if (o.debug) opts.push('debug');
  // Options are joined with ',' unescaped: a value with ',' or whitespace would smuggle in more options.
  if (o.fsName !== undefined && !/^[^\s,\\]+$/.test(o.fsName)) {
    throw new MountError(
      'MOUNT_FAILED',
      `invalid fsName ${JSON.stringify(o.fsName)}: no commas, spaces or backslashes`,
    );
  }
  // macOS: drops what macFUSE does not know (auto_unmount, big_writes, …), adds volname/noappledouble/iosize
  return platform.adaptMountOptions(opts, { volname: o.fsName ?? 'pan123fs', ioSizeBytes: MAX_REQUEST_BYTES });
}

export async function mountVfs(
  vfs: Vfs,
  mountpoint: string,
  opts: FuseMountOptions,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<FuseMount> {
  const mnt = path.resolve(mountpoint);
  const log = logger.child({ component: 'fuse', mountpoint: mnt });
  const { Fuse, info, native } = loadFuseNative();
  (info.kind === 'source' && info.nativePatched ? log.info : log.warn)({ binding: info }, describeBinding(info));
  await preflight(mnt, log);
  // PAN123FS_READ_VIEWS=0: the older answer (JS copies into libfuse's buffer), for A/B measurements
  const views = info.readViews && process.env.PAN123FS_READ_VIEWS !== '0';
  const raw = buildMountOptions(opts, libfuseMajor(info.libfuse), currentPlatform(), info.openCacheFlags, views);
  const stats = new RequestStats();
  const paths = new KernelPaths();
  const fuse = new Fuse(mnt, makeFuseOps(vfs, log, clock, stats, paths), {
    timeout: { ...OP_TIMEOUTS_MS },
    extraOptions: raw,
  });
  // An unpatched index.js has no extraOptions: hand it the same list through its private option builder.
  if (!info.jsPatched) (fuse as unknown as { _fuseOptions(): string })._fuseOptions = () => `-o${raw.join(',')}`;
  await new Promise<void>((resolve, reject) =>
    fuse.mount((err) =>
      err
        ? reject(
            new MountError(
              'MOUNT_FAILED',
              `mounting ${mnt} failed (${err.message}); run with --debug for libfuse's reason`,
              err,
            ),
          )
        : resolve(),
    ),
  );
  trackMount(mnt);
  const entry = await findMount(mnt);
  const bdi = entry && currentPlatform().name === 'linux' ? entry.device : undefined;
  if (entry)
    await raiseReadAhead(entry, libfuseMajor(info.libfuse) === 3 ? READ_AHEAD_KB : READ_AHEAD_KB_LIBFUSE2, log);
  log.info({ options: raw, bdi }, 'mounted');
  const requestStats = (): FuseRequestStats => {
    const c = fuse.connInfo?.();
    const conn = c
      ? { protoMinor: c.protoMinor, maxWrite: c.maxWrite, maxReadahead: c.maxReadahead, maxBackground: c.maxBackground }
      : undefined;
    return { ...stats.snapshot(), libfuse: info.libfuse, conn };
  };
  const cache = { invalidate: (p: readonly string[]) => invalidatePaths(fuse, p, log), paths };
  return makeHandle(mnt, bdi, fuse, native, log, clock, requestStats, cache);
}

/** At most this many invalidations queued on the libuv pool at once (it also serves fs and dns). */
const INVALIDATE_BATCH = 64;
const ENOENT = osc.errno.ENOENT;

async function invalidatePaths(fuse: FuseInternals, list: readonly string[], log: Logger): Promise<number> {
  const one = fuse.invalidate;
  if (!one) return 0;
  let held = 0;
  for (let i = 0; i < list.length; i += INVALIDATE_BATCH) {
    const codes = await Promise.all(
      list.slice(i, i + INVALIDATE_BATCH).map((p) => new Promise<number>((r) => one.call(fuse, p, r))),
    );
    for (const [k, c] of codes.entries()) {
      if (c === 0) held++;
      else if (c !== -ENOENT) log.debug({ path: list[i + k], code: c }, 'kernel cache invalidation failed');
    }
  }
  log.debug({ paths: list.length, held }, 'invalidated kernel caches');
  return held;
}

type FuseInternals = FuseNativeInstance & { _thread?: Buffer };

function threadStatsOf(fuse: FuseInternals): ThreadStats {
  const n = fuse.threadStats?.();
  return n
    ? { allocated: n.allocated, free: n.free, source: 'native' }
    : { allocated: fuse._threads?.size ?? 0, source: 'js' };
}

function makeHandle(
  mnt: string,
  bdi: string | undefined,
  fuse: FuseInternals,
  native: Record<string, unknown>,
  log: Logger,
  clock: Clock,
  requestStats: () => FuseRequestStats,
  cache: { invalidate(p: readonly string[]): Promise<number>; paths: KernelPaths },
): FuseMount {
  let state: 'mounted' | 'unmounting' | 'gone' = 'mounted';
  const listeners: (() => void)[] = [];
  const queued = new Set<string>();
  let draining = false;
  const drainQueue = async () => {
    if (draining) return;
    draining = true;
    try {
      while (queued.size > 0 && state === 'mounted') {
        const p = queued.values().next().value!;
        queued.delete(p);
        await cache.invalidate([p]);
      }
    } finally {
      draining = false;
    }
  };
  let timer: { cancel(): void } | undefined;
  // free pages inside malloc's arenas go back to the kernel after collections (memory-trim.ts)
  const trimmer = startMemoryTrim(native.fuse_native_malloc_trim as (() => boolean) | undefined, clock);
  const releaseNative = () => {
    trimmer.stop();
    // Unrefs fuse-native's loop handle so the process may exit; the libfuse thread ends with the mount.
    try {
      (native.fuse_native_unmount as (m: string, t?: Buffer) => void)(mnt, fuse._thread);
    } catch (err) {
      log.warn({ err }, 'native unmount bookkeeping failed');
    }
    untrackMount(mnt);
  };
  const poll = () => {
    timer = clock.setTimer(MOUNT_POLL_MS, () => {
      findMount(mnt).then(
        (e) => {
          if (state !== 'mounted') return;
          if (e) return poll();
          state = 'gone';
          log.warn('mount removed from outside (fusermount -u?)');
          releaseNative();
          for (const cb of listeners.splice(0)) cb();
        },
        (err: unknown) => {
          log.warn({ err }, 'reading mountinfo failed');
          poll();
        },
      );
    });
  };
  poll();
  return {
    mountpoint: mnt,
    bdi,
    threadStats: () => threadStatsOf(fuse),
    trimStats: () => trimmer.stats(),
    requestStats,
    invalidate: (p) => (state === 'mounted' ? cache.invalidate(p) : Promise.resolve(0)),
    invalidateQueued: (p) => {
      for (const x of p) queued.add(x);
      void drainQueue().catch((err: unknown) => log.warn({ err }, 'kernel cache invalidation failed'));
    },
    kernelPaths: (dir, recursive) => cache.paths.under(dir, recursive),
    onExternalUnmount: (cb) => {
      listeners.push(cb);
    },
    async unmount() {
      if (state !== 'mounted') return;
      state = 'unmounting';
      timer?.cancel();
      try {
        if (await findMount(mnt)) await fusermountUnmount(mnt);
      } catch (err) {
        state = 'mounted'; // still mounted: let the caller retry, keep watching
        poll();
        throw err;
      }
      releaseNative();
      state = 'gone';
      log.info('unmounted');
    },
  };
}

async function preflight(mnt: string, log: Logger): Promise<void> {
  const platform = currentPlatform();
  const fuseOk = await platform.checkFuse();
  if (!fuseOk.ok) throw new MountError('NO_DEV_FUSE', `${fuseOk.detail}: ${fuseOk.fix ?? platform.fuseInstallHint}`);
  if (!(await platform.findUnmountTool())) {
    throw new MountError('NO_FUSERMOUNT', `no unmount helper (fusermount3/fusermount): ${platform.fuseInstallHint}`);
  }
  if (await clearStaleMount(mnt)) log.warn('cleared a stale mount (Transport endpoint is not connected)');
  const st = await fsp.stat(mnt).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT')
      throw new MountError('MOUNTPOINT_MISSING', `mountpoint ${mnt} does not exist: mkdir -p ${mnt}`, err);
    throw new MountError('MOUNT_FAILED', `cannot stat mountpoint ${mnt}: ${err.message}`, err);
  });
  if (!st.isDirectory())
    throw new MountError('NOT_A_DIRECTORY', `mountpoint ${mnt} is not a directory: choose an empty directory`);
  if (await findMount(mnt))
    throw new MountError('ALREADY_MOUNTED', `${mnt} is already a mount point: unmount it first (fusermount -u ${mnt})`);
  if ((await fsp.readdir(mnt)).length > 0)
    throw new MountError('NOT_EMPTY', `mountpoint ${mnt} is not empty: choose an empty directory`);
}

function fusermountUnmount(mnt: string): Promise<void> {
  return currentPlatform()
    .unmount(mnt, true)
    .catch((err: unknown) => {
      throw new MountError('MOUNT_FAILED', err instanceof Error ? err.message : String(err), err);
    });
}

/** If `mountpoint` is a dead FUSE mount (ENOTCONN), lazily unmount it. Returns true when it cleared one. */
export async function clearStaleMount(mountpoint: string): Promise<boolean> {
  const mnt = path.resolve(mountpoint);
  const err = await fsp.stat(mnt).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  if (err?.code !== 'ENOTCONN') return false;
  await fusermountUnmount(mnt);
  return true;
}

/** True when `mountpoint` is a mount point (the platform's mount table). */
export async function isMounted(mountpoint: string): Promise<boolean> {
  return (await findMount(path.resolve(mountpoint))) !== undefined;
}

/** The top-most mount at `mnt` (Linux: /proc/self/mountinfo; macOS: `mount` output). */
function findMount(mnt: string): Promise<MountEntry | undefined> {
  return currentPlatform().findMount(mnt);
}

async function raiseReadAhead(entry: MountEntry, kb: number, log: Logger): Promise<void> {
  await currentPlatform()
    .setReadAhead(entry, kb)
    .then(
      (r) => log.debug({ device: entry.device, kb, result: r }, 'read-ahead'),
      (err: NodeJS.ErrnoException) =>
        log.info(
          { device: entry.device, code: err.code },
          'could not raise read-ahead (needs root); sequential reads will be slower',
        ),
    );
}
