import { describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/core/logger.js';
import { makeFuseOps } from '../../../src/fuse/ops.js';
import { LIBFUSE2_MAX_REQUEST, RequestStats } from '../../../src/fuse/request-stats.js';
import { MemVfs } from '../../helpers/mem-vfs.js';

const quiet: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
  child: () => quiet,
};

const call = (ops: Record<string, unknown>, name: string, ...args: unknown[]) =>
  new Promise<unknown[]>((resolve) =>
    (ops[name] as (...a: unknown[]) => void)(...args, (...r: unknown[]) => resolve(r)),
  );

describe('fuse/request-stats', () => {
  it('counts every op and the read/write request sizes the kernel asked for', async () => {
    const vfs = new MemVfs();
    vfs.put('/f', Buffer.alloc(3 << 20, 1));
    const stats = new RequestStats();
    const ops = makeFuseOps(vfs, quiet, undefined, stats);
    const fh = (await call(ops, 'open', '/f', 0))[1];
    await call(ops, 'getattr', '/f');
    await call(ops, 'getattr', '/nope');
    expect(await call(ops, 'read', '/f', fh, Buffer.alloc(1 << 20), 1 << 20, 0)).toEqual([1 << 20]);
    await call(ops, 'read', '/f', fh, Buffer.alloc(1 << 20), 1 << 20, 3 << 20); // at EOF: still a request
    await call(ops, 'read', '/f', fh, Buffer.alloc(4096), 4096, 0);
    await call(ops, 'write', '/f', fh, Buffer.alloc(LIBFUSE2_MAX_REQUEST), LIBFUSE2_MAX_REQUEST, 0);
    const s = stats.snapshot();
    expect(s.ops).toEqual({ open: 1, getattr: 2, read: 3, write: 1 });
    expect(s.read).toEqual({
      count: 3,
      bytes: 2 * (1 << 20) + 4096,
      max: 1 << 20,
      over128KiB: 2,
      sizes: { [String(1 << 20)]: 2, '4096': 1 },
    });
    expect(s.write).toMatchObject({ count: 1, max: LIBFUSE2_MAX_REQUEST, over128KiB: 0 });
    s.ops.open = 99; // a snapshot is a copy
    expect(stats.snapshot().ops.open).toBe(1);
  });
});
