import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { FsError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import { makeFuseOps, makeRunner } from '../../../src/fuse/ops.js';
import { MemVfs } from '../../helpers/mem-vfs.js';

const E = constants.errno;

function recordingLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at = (level: string) => (a: object | string, msg?: string) => {
    lines.push({
      level,
      obj: typeof a === 'string' ? {} : (a as Record<string, unknown>),
      msg: typeof a === 'string' ? a : msg,
    });
  };
  const log: Logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => log,
  };
  return { log, lines };
}

/** Call a runner-wrapped handler and collect every cb invocation (after a few ticks). */
async function answers(fn: () => unknown, log = recordingLogger().log) {
  const got: unknown[][] = [];
  makeRunner(log)(
    'op',
    '/p',
    (...a: unknown[]) => {
      got.push(a);
    },
    fn as never,
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return got;
}

describe('fuse/ops runner', () => {
  it('undefined → 0, number → number, tuple → spread', async () => {
    expect(await answers(async () => undefined)).toEqual([[0]]);
    expect(await answers(async () => 42)).toEqual([[42]]);
    expect(await answers(async () => [0, { a: 1 }])).toEqual([[0, { a: 1 }]]);
    expect(await answers(() => 7)).toEqual([[7]]);
  });

  it('FsError rejection / throw → mapped -errno, exactly once', async () => {
    expect(
      await answers(async () => {
        throw new FsError('ENOENT', 'x');
      }),
    ).toEqual([[-E.ENOENT]]);
    expect(
      await answers(() => {
        throw new FsError('EEXIST', 'x');
      }),
    ).toEqual([[-E.EEXIST]]);
  });

  it('non-FsError throw / rejection → -EIO, logged as a bug with op, path and stack', async () => {
    const { log, lines } = recordingLogger();
    expect(
      await answers(() => {
        throw new TypeError('oops');
      }, log),
    ).toEqual([[-E.EIO]]);
    expect(await answers(() => Promise.reject('a string'), log)).toEqual([[-E.EIO]]);
    const bugs = lines.filter((l) => l.level === 'error');
    expect(bugs).toHaveLength(2);
    expect(bugs[0]!.obj).toMatchObject({ op: 'op', path: '/p' });
    expect(JSON.stringify(bugs[0]!.obj)).toContain('oops');
    expect(String((bugs[0]!.obj.err as { stack: string }).stack)).toContain('TypeError');
  });

  it('non-number answers never reach cb', async () => {
    expect(await answers(async () => 'x' as never)).toEqual([[-E.EIO]]);
    expect(await answers(async () => NaN)).toEqual([[-E.EIO]]);
    expect(await answers(async () => [null, 1] as never)).toEqual([[-E.EIO]]);
    expect(await answers(async () => 1.5)).toEqual([[-E.EIO]]);
  });

  it('a throwing cb is contained', async () => {
    const { log, lines } = recordingLogger();
    makeRunner(log)(
      'op',
      '/p',
      () => {
        throw new Error('cb');
      },
      async () => 0,
    );
    await new Promise((r) => setImmediate(r));
    expect(lines.some((l) => l.level === 'error' && /callback threw/.test(l.msg ?? ''))).toBe(true);
  });
});

describe('fuse/ops table over MemVfs', () => {
  const call = (ops: Record<string, unknown>, name: string, ...args: unknown[]) =>
    new Promise<unknown[]>((resolve) => {
      (ops[name] as (...a: unknown[]) => void)(...args, (...r: unknown[]) => resolve(r));
    });

  it('getattr, readdir, read, write, errors', async () => {
    const vfs = new MemVfs();
    vfs.put('/a.txt', 'hello');
    const ops = makeFuseOps(vfs, recordingLogger().log);
    const [code, st] = await call(ops, 'getattr', '/a.txt');
    expect(code).toBe(0);
    expect(st).toMatchObject({ size: 5 });
    expect((await call(ops, 'getattr', '/nope'))[0]).toBe(-E.ENOENT);
    const [c2, names] = await call(ops, 'readdir', '/');
    expect([c2, names]).toEqual([0, ['a.txt']]);
    const [c3, fh] = await call(ops, 'open', '/a.txt', 0);
    expect(c3).toBe(0);
    const buf = Buffer.alloc(16);
    expect(await call(ops, 'read', '/a.txt', fh, buf, 16, 0)).toEqual([5]);
    expect(buf.subarray(0, 5).toString()).toBe('hello');
    expect(await call(ops, 'write', '/a.txt', fh, Buffer.from('HE'), 2, 0)).toEqual([2]);
    expect(await call(ops, 'read', '/a.txt', fh, buf, 16, 0)).toEqual([5]);
    expect(buf.subarray(0, 5).toString()).toBe('HEllo');
  });

  it('unsupported ops answer without touching the Vfs', async () => {
    const ops = makeFuseOps(new MemVfs(), recordingLogger().log);
    expect(await call(ops, 'symlink', '/t', '/l')).toEqual([-E.EPERM]);
    expect(await call(ops, 'link', '/t', '/l')).toEqual([-E.EPERM]);
    expect(await call(ops, 'mknod', '/n', 0o644, 0)).toEqual([-E.EPERM]);
    expect(await call(ops, 'readlink', '/l')).toEqual([-E.EINVAL]);
    expect(await call(ops, 'getxattr', '/', 'user.x', 0)).toEqual([-E.ENOSYS]);
    expect(await call(ops, 'listxattr', '/')).toEqual([-E.ENOSYS]);
  });

  it('utimens with an omitted atime keeps the current one', async () => {
    const vfs = new MemVfs({}, () => 1000);
    vfs.put('/f', 'x');
    const ops = makeFuseOps(vfs, recordingLogger().log);
    expect(await call(ops, 'utimens', '/f', null, 5000)).toEqual([0]);
    const st = await vfs.getattr('/f');
    expect([st.atimeMs, st.mtimeMs]).toEqual([1000, 5000]);
  });

  it('a read count beyond the buffer is EIO, not a kernel overrun', async () => {
    const vfs = new MemVfs();
    vfs.read = async () => 99;
    const ops = makeFuseOps(vfs, recordingLogger().log);
    expect(await call(ops, 'read', '/f', 1, Buffer.alloc(8), 8, 0)).toEqual([-E.EIO]);
  });

  it('read with buf = null (read_views) answers [n, views, release] and releases once', async () => {
    const vfs = new MemVfs();
    vfs.put('/a.txt', 'hello world');
    const ops = makeFuseOps(vfs, recordingLogger().log);
    const [, fh] = await call(ops, 'open', '/a.txt', 0);
    // MemVfs has no readViews: one fresh buffer, a release that does nothing
    const [n, views, release] = await call(ops, 'read', '/a.txt', fh, null, 5, 6);
    expect(n).toBe(5);
    expect(Buffer.concat(views as Buffer[]).toString()).toBe('world');
    expect(typeof release).toBe('function');
    expect(await call(ops, 'read', '/a.txt', fh, null, 5, 11)).toEqual([0]); // EOF: no views

    let released = 0;
    const parts = Array.from({ length: 20 }, (_, i) => Buffer.from([i]));
    const withViews = Object.assign(new MemVfs(), {
      readViews: async () => ({ views: parts, bytes: parts.length, release: () => released++ }),
    });
    const ops2 = makeFuseOps(withViews, recordingLogger().log);
    // more views than the binding takes (16): joined into one, released at once
    const [n2, v2, r2] = await call(ops2, 'read', '/x', 1, null, 20, 0);
    expect([n2, (v2 as Buffer[]).length, r2, released]).toEqual([20, 1, undefined, 1]);
    expect([...(v2 as Buffer[])[0]!]).toEqual(parts.map((_, i) => i));
    parts.length = 3;
    const few = await call(ops2, 'read', '/x', 1, null, 20, 0);
    expect([few[0], (few[1] as Buffer[]).length]).toEqual([3, 3]); // three one-byte views, as they are
    expect(released).toBe(1); // held until the binding says the worker copied them
    (few[2] as () => void)();
    (few[2] as () => void)();
    expect(released).toBe(2); // once
  });

  it('read_views: a count beyond the request or views that do not add up are EIO, and released', async () => {
    let released = 0;
    let answer = { views: [Buffer.alloc(8)], bytes: 8 };
    const vfs = Object.assign(new MemVfs(), {
      readViews: async () => ({ ...answer, release: () => released++ }),
    });
    const ops = makeFuseOps(vfs, recordingLogger().log);
    expect(await call(ops, 'read', '/f', 1, null, 4, 0)).toEqual([-E.EIO]);
    answer = { views: [Buffer.alloc(2)], bytes: 3 };
    expect(await call(ops, 'read', '/f', 1, null, 4, 0)).toEqual([-E.EIO]);
    expect(released).toBe(2);
  });

  it('copy_file_range: the count (beyond int32) is the answer; ENOTSUP is EOPNOTSUPP; over len is EIO', async () => {
    const vfs = new MemVfs();
    const ops = makeFuseOps(vfs, recordingLogger().log);
    const cap = 2 ** 32 - 4096;
    expect(await call(ops, 'copy_file_range', '/a', 1, 0, '/b', 2, 0, cap, 0)).toEqual([-E.EOPNOTSUPP]);
    vfs.copyFileRange = async (_pi, _fi, _oi, _po, _fo, _oo, len) => len;
    expect(await call(ops, 'copy_file_range', '/a', 1, 0, '/b', 2, 0, cap, 0)).toEqual([cap]);
    vfs.copyFileRange = async (_pi, _fi, _oi, _po, _fo, _oo, len) => len + 1;
    expect(await call(ops, 'copy_file_range', '/a', 1, 0, '/b', 2, 0, 10, 0)).toEqual([-E.EIO]);
  });

  it('rename flags (libfuse 3): 0 renames, NOREPLACE refuses an existing target, EXCHANGE is EINVAL', async () => {
    const vfs = new MemVfs();
    vfs.put('/a', 'a');
    vfs.put('/b', 'b');
    const ops = makeFuseOps(vfs, recordingLogger().log);
    expect(await call(ops, 'rename', '/a', '/b', 1)).toEqual([-E.EEXIST]);
    expect(await call(ops, 'rename', '/a', '/b', 2)).toEqual([-E.EINVAL]);
    expect((await vfs.getattr('/b')).size).toBe(1);
    expect(await call(ops, 'rename', '/a', '/c', 1)).toEqual([0]);
    await expect(vfs.getattr('/a')).rejects.toMatchObject({ kind: 'ENOENT' });
    expect(await call(ops, 'rename', '/c', '/b', 0)).toEqual([0]);
    await expect(vfs.getattr('/c')).rejects.toMatchObject({ kind: 'ENOENT' });
  });
});
