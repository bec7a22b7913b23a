// The kernel-facing operation table: every fuse-native op is one line through `run`, which owns the
// callback protocol. No op makes a decision; semantics live in vfs/.
// Invariants of `run` (fuse-native crashes the process on a non-number first argument or a throw):
//   - cb is called exactly once per request, always with a finite integer first (0/result or -errno);
//   - a rejection or throw becomes the FsError's mapped errno, or EIO for anything else (logged as a bug
//     with op, path and stack); an invalid result (NaN, a string, a count beyond the buffer) is EIO too;
//   - every answer is trace-logged at debug with op, path, code and duration;
//   - every request is counted (per op; read/write also by size) when the mount passes a RequestStats, and
//     every path a request names or a readdir returns is remembered in KernelPaths (for invalidation).
// read/write buffers are external memory owned by libfuse and detached once cb has run: the Vfs copies
// write data before its promise settles and fills read data before it resolves; nothing here keeps buf.
// With the read_views mount option a read gets buf = null and answers (n, views, release): views of the
// read path's blocks that the libfuse worker copies into the reply; the binding calls release once it has
// (or at once, when the request had timed out); an answer refused here (a bad count) releases at once.

import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { isFsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DirEntry, ReadViews, Vfs } from '../vfs/types.js';
import { resolveTimes, toFuseStat, toFuseStatFs } from './attr.js';
import type { FuseCb } from './binding.js';
import { READ_VIEWS_MAX } from './binding.js';
import { NEG, negErrno } from './errno.js';
import type { KernelPaths } from './kernel-paths.js';
import type { RequestStats } from './request-stats.js';

/** What a handler produces: nothing (0), a number (bytes / fh), or [code, ...payload]. */
// biome-ignore lint/suspicious/noConfusingVoidType: the one-line ops return their vfs call's Promise<void>
export type Answer = void | number | readonly [number, ...unknown[]];
/** `size`: a read/write request's length, counted in the mount's RequestStats. */
export type Runner = (op: string, path: string, cb: FuseCb, fn: () => Promise<Answer> | Answer, size?: number) => void;

export function makeRunner(log: Logger, clock: Clock = systemClock, stats?: RequestStats, paths?: KernelPaths): Runner {
  return (op, path, cb, fn, size) => {
    const t0 = clock.now();
    stats?.op(op);
    paths?.add(path);
    if (size !== undefined && (op === 'read' || op === 'write')) stats?.size(op, size);
    let answered = false;
    const answer = (code: number, payload: readonly unknown[]) => {
      if (answered) return log.error({ op, path }, 'bug: second answer to one FUSE request suppressed');
      answered = true;
      log.debug({ op, path, code, durationMs: clock.now() - t0 }, 'fuse op');
      try {
        cb(code, ...payload);
      } catch (err) {
        log.error({ op, path, err: errInfo(err) }, 'bug: fuse callback threw');
      }
    };
    const bug = (why: string, detail: object) => {
      log.error({ op, path, ...detail }, `bug: ${why}`);
      answer(NEG.EIO, []);
    };
    const ok = (a: Answer) => {
      const [code, ...payload] = a === undefined ? [0] : typeof a === 'number' ? [a] : a;
      if (typeof code !== 'number' || !Number.isInteger(code))
        return bug('handler gave a non-integer answer', { answer: String(code) });
      answer(code, payload);
    };
    const fail = (err: unknown) => {
      if (!isFsError(err)) return bug('unexpected error in FUSE op', { err: errInfo(err) });
      // expected answers (ENOENT, EEXIST, …) are debug; failures a user must hear about are warnings, with
      // the cause (API code and x-traceID when the error came from the API)
      const cause = err.cause as { code?: unknown; traceId?: unknown } | undefined;
      const detail = { op, path, errno: err.kind, msg: err.message, code: cause?.code, traceId: cause?.traceId };
      if (LOUD_KINDS.has(err.kind) && !err.logged) log.warn(detail, 'fuse op failed');
      else log.debug(detail, 'fuse op failed');
      answer(negErrno(err), []);
    };
    try {
      Promise.resolve(fn())
        .then(ok, fail)
        .catch((err: unknown) => bug('answering failed', { err: errInfo(err) }));
    } catch (err) {
      fail(err);
    }
  };
}

/** errno kinds that mean something went wrong (not a normal answer like ENOENT or EEXIST) */
const LOUD_KINDS = new Set(['EIO', 'ENOSPC', 'EDQUOT', 'ETIMEDOUT', 'EACCES', 'EAGAIN', 'EFBIG', 'ENETDOWN']);

function errInfo(err: unknown): object {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { value: String(err) };
}

/** A count the kernel can accept: an integer in [0, max]. */
function count(n: number, max: number): number {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`byte count ${n} outside [0, ${max}]`);
  return n;
}

type Cb = FuseCb;

/** A read as views (the Vfs's own when it has them, else one fresh buffer). */
async function readViewsOf(vfs: Vfs, p: string, fh: number, len: number, pos: number): Promise<ReadViews> {
  if (vfs.readViews) return vfs.readViews(p, fh, len, pos);
  const buf = Buffer.allocUnsafe(len);
  const n = await vfs.read(p, fh, buf, len, pos);
  return { views: n > 0 ? [buf.subarray(0, n)] : [], bytes: n, release: () => undefined };
}

/** [n, views, release] for the binding; more views than it takes are joined (and released at once). */
function viewsAnswer(r: ReadViews, max: number): Answer {
  try {
    count(r.bytes, max);
    if (r.views.reduce((a, v) => a + v.length, 0) !== r.bytes) throw new Error(`views do not add up to ${r.bytes}`);
  } catch (e) {
    r.release();
    throw e;
  }
  if (r.bytes === 0) {
    r.release();
    return 0;
  }
  if (r.views.length <= READ_VIEWS_MAX) return [r.bytes, r.views, once(r.release)];
  const joined = Buffer.concat(r.views, r.bytes);
  r.release();
  return [r.bytes, [joined]];
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}

/** The ops object handed to fuse-native. Signatures are fuse-native 2.2.6's (+ our patch). */
export function makeFuseOps(
  vfs: Vfs,
  log: Logger,
  clock: Clock = systemClock,
  stats?: RequestStats,
  paths?: KernelPaths,
): Record<string, unknown> {
  const run = makeRunner(log, clock, stats, paths);
  const listed = (p: string, entries: readonly DirEntry[]) => {
    paths?.addChildren(
      p,
      entries.map((e) => e.name),
    );
    return entries;
  };
  return {
    access: (p: string, mode: number, cb: Cb) => run('access', p, cb, () => vfs.access(p, mode)),
    statfs: (p: string, cb: Cb) => run('statfs', p, cb, async () => [0, toFuseStatFs(await vfs.statfs(p))] as const),
    getattr: (p: string, cb: Cb) => run('getattr', p, cb, async () => [0, toFuseStat(await vfs.getattr(p))] as const),
    fgetattr: (p: string, fh: number, cb: Cb) =>
      run('fgetattr', p, cb, async () => [0, toFuseStat(await vfs.fgetattr(p, fh))] as const),
    readdir: (p: string, cb: Cb) => run('readdir', p, cb, async () => readdirAnswer(listed(p, await vfs.readdir(p)))),
    open: (p: string, flags: number, cb: Cb) =>
      run('open', p, cb, async () => openAnswer(vfs, await vfs.open(p, flags))),
    opendir: (p: string, _flags: number, cb: Cb) =>
      run('opendir', p, cb, async () => [0, await vfs.opendir(p)] as const),
    releasedir: (p: string, fh: number, cb: Cb) => run('releasedir', p, cb, () => vfs.releasedir(p, fh)),
    create: (p: string, mode: number, cb: Cb) =>
      run('create', p, cb, async () => [0, await vfs.create(p, mode)] as const),
    read: (p: string, fh: number, buf: Buffer | null, len: number, pos: number, cb: Cb) =>
      buf === null
        ? run('read', p, cb, async () => viewsAnswer(await readViewsOf(vfs, p, fh, len, pos), len), len)
        : run('read', p, cb, async () => count(await vfs.read(p, fh, buf, len, pos), len), len),
    write: (p: string, fh: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
      run('write', p, cb, async () => count(await vfs.write(p, fh, buf, len, pos), len), len),
    truncate: (p: string, size: number, cb: Cb) => run('truncate', p, cb, () => vfs.truncate(p, size)),
    ftruncate: (p: string, fh: number, size: number, cb: Cb) =>
      run('ftruncate', p, cb, () => vfs.ftruncate(p, fh, size)),
    flush: (p: string, fh: number, cb: Cb) => run('flush', p, cb, () => vfs.flush(p, fh)),
    fsync: (p: string, datasync: number, fh: number, cb: Cb) => run('fsync', p, cb, () => vfs.fsync(p, fh, !!datasync)),
    fsyncdir: (p: string, _datasync: number, _fh: number, cb: Cb) => run('fsyncdir', p, cb, () => 0),
    release: (p: string, fh: number, cb: Cb) => run('release', p, cb, () => vfs.release(p, fh)),
    copy_file_range: (
      pi: string,
      fi: number,
      oi: number,
      po: string,
      fo: number,
      oo: number,
      len: number,
      _f: number,
      cb: Cb,
    ) => run('copy_file_range', po, cb, async () => count(await vfs.copyFileRange(pi, fi, oi, po, fo, oo, len), len)),
    mkdir: (p: string, mode: number, cb: Cb) => run('mkdir', p, cb, () => vfs.mkdir(p, mode)),
    rmdir: (p: string, cb: Cb) => run('rmdir', p, cb, () => vfs.rmdir(p)),
    unlink: (p: string, cb: Cb) => run('unlink', p, cb, () => vfs.unlink(p)),
    rename: (p: string, dest: string, flags: number, cb: Cb) =>
      run('rename', p, cb, () => renameWith(vfs, p, dest, flags, paths)),
    chmod: (p: string, mode: number, cb: Cb) => run('chmod', p, cb, () => vfs.chmod(p, mode)),
    chown: (p: string, uid: number, gid: number, cb: Cb) => run('chown', p, cb, () => vfs.chown(p, uid, gid)),
    utimens: (p: string, at: number | null, mt: number | null, cb: Cb) =>
      run('utimens', p, cb, async () => vfs.utimens(p, ...(await resolveTimes(at, mt, () => vfs.getattr(p))))),
    // Not in the Vfs (no symlinks, hard links or device nodes on 123pan; see docs/SEMANTICS.md).
    readlink: (p: string, cb: Cb) => run('readlink', p, cb, () => NEG.EINVAL),
    symlink: (target: string, p: string, cb: Cb) => run('symlink', p || target, cb, () => NEG.EPERM),
    link: (src: string, p: string, cb: Cb) => run('link', p || src, cb, () => NEG.EPERM),
    mknod: (p: string, _mode: number, _dev: number, cb: Cb) => run('mknod', p, cb, () => NEG.EPERM),
    // xattrs: ENOSYS makes the kernel remember "no xattrs" per op and answer EOPNOTSUPP (== ENOTSUP on
    // Linux) itself from then on, so `cp -a`/`rsync -a` stay quiet and `ls -l` stops paying a JS round
    // trip per file for its ACL probe. See docs/FUSE.md.
    getxattr: (p: string, _n: string, _pos: number, cb: Cb) => run('getxattr', p, cb, () => NEG.ENOSYS),
    setxattr: (p: string, _n: string, _v: Buffer, _pos: number, _f: number, cb: Cb) =>
      run('setxattr', p, cb, () => NEG.ENOSYS),
    listxattr: (p: string, cb: Cb) => run('listxattr', p, cb, () => NEG.ENOSYS),
    removexattr: (p: string, _n: string, cb: Cb) => run('removexattr', p, cb, () => NEG.ENOSYS),
  };
}

/** The open reply's page-cache bits (our native patch sets fi->keep_cache / fi->direct_io from them). */
export const OPEN_KEEP_CACHE = 1;
export const OPEN_DIRECT_IO = 2;
function openAnswer(vfs: Vfs, fh: number): Answer {
  const mode = vfs.pageCache?.(fh) ?? 'drop';
  return [0, fh, mode === 'keep' ? OPEN_KEEP_CACHE : mode === 'direct' ? OPEN_DIRECT_IO : 0];
}

/** renameat2 flags (libfuse 3 passes them; 0 otherwise): RENAME_NOREPLACE checks first; RENAME_EXCHANGE
 * cannot be done on 123pan (EINVAL, which callers such as mv take as "not supported here"). */
const RENAME_NOREPLACE = 1;
async function renameWith(vfs: Vfs, p: string, dest: string, flags: number, paths?: KernelPaths): Promise<Answer> {
  paths?.add(dest); // the kernel now holds the entry under its new name
  if (flags & ~RENAME_NOREPLACE) return NEG.EINVAL;
  if (flags & RENAME_NOREPLACE) {
    const exists = await vfs.getattr(dest).then(
      () => true,
      (err: unknown) => {
        if (isFsError(err) && err.kind === 'ENOENT') return false;
        throw err;
      },
    );
    if (exists) return NEG.EEXIST;
  }
  return vfs.rename(p, dest);
}

function readdirAnswer(entries: readonly { name: string; stat: import('../vfs/types.js').Stat }[]): Answer {
  return [0, entries.map((e) => e.name), entries.map((e) => toFuseStat(e.stat))];
}
