import { describe, expect, it } from 'vitest';
import { KernelPaths } from '../../../src/fuse/kernel-paths.js';

describe('fuse/kernel-paths', () => {
  it('under(dir): the folder and its direct entries, or the whole subtree when recursive', () => {
    const k = new KernelPaths();
    k.add('/a');
    k.addChildren('/a', ['x', 'sub']);
    k.addChildren('/a/sub', ['deep']);
    k.add('/ab'); // a sibling sharing the prefix, never "under" /a
    k.add('/a'); // again: no duplicate
    expect(k.under('/a', false).sort()).toEqual(['/a', '/a/sub', '/a/x']);
    expect(k.under('/a/', true).sort()).toEqual(['/a', '/a/sub', '/a/sub/deep', '/a/x']);
    expect(k.under('/', false).sort()).toEqual(['/', '/a', '/ab']);
    expect(k.under('/', true)).toHaveLength(6);
  });

  it('is bounded: past the limit the oldest paths are forgotten', () => {
    const k = new KernelPaths(3);
    for (const p of ['/1', '/2', '/3', '/4']) k.add(p);
    expect(k.size).toBe(3);
    expect(k.under('/', true).sort()).toEqual(['/', '/2', '/3', '/4']);
  });
});
