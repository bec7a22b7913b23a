// planListingMerge on its own, without SQLite: the steps of a name swap, a vanished row, a local shadow.
import { describe, expect, it } from 'vitest';
import { type ListingState, planListingMerge } from '../../../src/meta/listing-merge.js';
import type { ListedChild, NodeRow } from '../../../src/meta/node-store.js';

const T0 = 1_700_000_000_000;
const row = (ino: number, remoteId: string | null, name: string, extra: Partial<NodeRow> = {}): NodeRow => ({
  ino,
  remoteId,
  parentIno: 1,
  name,
  isDir: false,
  size: 1,
  md5: 'm',
  mtimeMs: T0,
  ctimeMs: T0,
  status: 0,
  dirty: false,
  listedAt: null,
  ...extra,
});
const entry = (id: string, name: string): ListedChild => ({
  id,
  name,
  isDir: false,
  size: 2,
  md5: `md5-${id}`,
  status: 0,
  createdAt: T0,
  updatedAt: T0,
});
function state(children: NodeRow[], over: Partial<ListingState> = {}): ListingState {
  return {
    parentIno: 1,
    children,
    byRemoteId: (id) => children.find((c) => c.remoteId === id),
    ancestors: () => [],
    changedSince: () => false,
    removedSince: () => false,
    pendingBelow: () => false,
    changedBelow: () => false,
    ...over,
  };
}

describe('planListingMerge', () => {
  it('a swap parks both rows first, then places them (inos kept)', () => {
    const a = row(10, 'A', 'x');
    const b = row(11, 'B', 'y');
    expect(planListingMerge(state([a, b]), [entry('A', 'y'), entry('B', 'x')]).map((s) => s.kind)).toEqual([
      'park',
      'park',
      'update',
      'update',
    ]);
  });

  it('deletes a clean row the listing lacks, inserts a new entry', () => {
    const steps = planListingMerge(state([row(10, 'A', 'x')]), [entry('N', 'n')]);
    expect(steps).toEqual([
      { kind: 'delete', ino: 10 },
      { kind: 'insert', entry: entry('N', 'n') },
    ]);
  });

  it('a dirty local file shadows the entry of its name; a row changed since the listing is left alone', () => {
    const local = row(10, null, 'x', { dirty: true });
    const moved = row(11, 'B', 'y');
    const steps = planListingMerge(state([local, moved], { changedSince: (ino) => ino === 11 }), [entry('A', 'x')]);
    expect(steps).toEqual([]);
  });
});
