// placeRemote (src/write/placement.ts): the one move + rename protocol, against the shared fake's strict
// name clashes (a rename clashes in the folder the item is in, a move in the destination folder).
import { describe, expect, it } from 'vitest';
import { type LogFn, type Logger, silentLogger } from '../../../src/core/logger.js';
import { type Place, type PlacementOptions, placeRemote } from '../../../src/write/placement.js';
import { FAKE_ROOT_ID, FakePan, transient } from '../../support/fake-pan.js';

function seed() {
  const pan = new FakePan();
  const a = pan.addDir(FAKE_ROOT_ID, 'a');
  const b = pan.addDir(FAKE_ROOT_ID, 'b');
  const id = pan.addFile(a, 'x', Buffer.from('x'));
  return { pan, a, b, id };
}

const opts = (o: Partial<PlacementOptions> = {}): PlacementOptions => ({ now: () => 1_000, ...o });
const where = (pan: FakePan, id: string) => {
  const f = pan.files.get(id)!;
  return { parentId: f.parentId, name: f.name };
};
const temps = (pan: FakePan) => [...pan.files.values()].filter((f) => f.name.startsWith('.pan123fs-mv-'));

describe('placeRemote', () => {
  it('one step when only the name or only the folder changes', async () => {
    const { pan, a, b, id } = seed();
    const at = { parentId: a, name: 'x' };
    await placeRemote(pan, id, at, { parentId: a, name: 'y' }, opts());
    await placeRemote(pan, id, at, { parentId: b, name: 'y' }, opts());
    expect(pan.mutations()).toEqual([
      { method: 'rename', args: [id, 'y'] },
      { method: 'move', args: [[id], b] },
    ]);
    expect(at).toEqual({ parentId: b, name: 'y' });
    expect(where(pan, id)).toEqual(at);
  });

  it('both change, no clash known: move first, then rename', async () => {
    const { pan, a, b, id } = seed();
    await placeRemote(pan, id, { parentId: a, name: 'x' }, { parentId: b, name: 'z' }, opts());
    expect(pan.mutations().map((m) => m.method)).toEqual(['move', 'rename']);
    expect(where(pan, id)).toEqual({ parentId: b, name: 'z' });
  });

  it('the destination is known to hold the old name: rename first, then move', async () => {
    const { pan, a, b, id } = seed();
    pan.addFile(b, 'x', Buffer.from('bx'));
    const hints = { moveClashes: true, renameClashes: false };
    await placeRemote(pan, id, { parentId: a, name: 'x' }, { parentId: b, name: 'z' }, opts({ hints }));
    expect(pan.mutations()).toEqual([
      { method: 'rename', args: [id, 'z'] },
      { method: 'move', args: [[id], b] },
    ]);
    expect(where(pan, id)).toEqual({ parentId: b, name: 'z' });
  });

  it('both orders known to clash: through a unique temporary name', async () => {
    const { pan, a, b, id } = seed();
    pan.addFile(b, 'x', Buffer.from('bx'));
    pan.addFile(a, 'z', Buffer.from('az'));
    const hints = { moveClashes: true, renameClashes: true };
    await placeRemote(pan, id, { parentId: a, name: 'x' }, { parentId: b, name: 'z' }, opts({ hints }));
    const m = pan.mutations();
    expect(m.map((c) => c.method)).toEqual(['rename', 'move', 'rename']);
    expect(m[0]!.args).toEqual([id, `.pan123fs-mv-${id}-${(1000).toString(36)}`]);
    expect(where(pan, id)).toEqual({ parentId: b, name: 'z' });
    expect(temps(pan)).toEqual([]);
  });

  it('a clash at the first step (stale hints) goes through the temporary name', async () => {
    const { pan, a, b, id } = seed();
    pan.addFile(b, 'x', Buffer.from('bx')); // the hints do not know it
    const at = { parentId: a, name: 'x' };
    await placeRemote(pan, id, at, { parentId: b, name: 'z' }, opts());
    expect(pan.mutations().map((c) => c.method)).toEqual(['move', 'rename', 'move', 'rename']);
    expect(at).toEqual({ parentId: b, name: 'z' });
    expect(where(pan, id)).toEqual(at);
    expect(temps(pan)).toEqual([]);
  });

  it('a clash at the second step is real: thrown, `at` where the item is (no undo)', async () => {
    const { pan, a, b, id } = seed();
    pan.addFile(b, 'z', Buffer.from('bz'));
    const at = { parentId: a, name: 'x' };
    await expect(placeRemote(pan, id, at, { parentId: b, name: 'z' }, opts())).rejects.toMatchObject({
      kind: 'name-clash',
    });
    expect(at).toEqual({ parentId: b, name: 'x' });
    expect(where(pan, id)).toEqual(at);
    // retried from there once the name is free (the fix-up's retry)
    pan.files.get([...pan.files.values()].find((f) => f.name === 'z')!.id)!.trashed = true;
    await placeRemote(pan, id, at, { parentId: b, name: 'z' }, opts());
    expect(where(pan, id)).toEqual({ parentId: b, name: 'z' });
  });

  it('all or nothing: a failure at the second step moves the item back', async () => {
    const { pan, a, b, id } = seed();
    pan.fail('rename', 1, () => transient());
    const at = { parentId: a, name: 'x' };
    const o = opts({ allOrNothing: true });
    await expect(placeRemote(pan, id, at, { parentId: b, name: 'z' }, o)).rejects.toMatchObject({
      kind: 'transport',
    });
    expect(pan.mutations()).toEqual([
      { method: 'move', args: [[id], b] },
      { method: 'rename', args: [id, 'z'] },
      { method: 'move', args: [[id], a] },
    ]);
    expect(at).toEqual({ parentId: a, name: 'x' });
    expect(where(pan, id)).toEqual(at);
  });

  it('all or nothing on the temporary path: a failure at the last step undoes the move and the rename', async () => {
    const { pan, a, b, id } = seed();
    pan.addFile(b, 'x', Buffer.from('bx'));
    pan.addFile(a, 'z', Buffer.from('az'));
    pan.fail(
      'rename',
      1,
      () => transient(),
      (args) => args.newName === 'z',
    );
    const at = { parentId: a, name: 'x' };
    const hints = { moveClashes: true, renameClashes: true };
    await expect(
      placeRemote(pan, id, at, { parentId: b, name: 'z' }, opts({ hints, allOrNothing: true })),
    ).rejects.toMatchObject({ kind: 'transport' });
    expect(pan.mutations().map((c) => c.method)).toEqual(['rename', 'move', 'rename', 'move', 'rename']);
    expect(where(pan, id)).toEqual({ parentId: a, name: 'x' });
    expect(at).toEqual({ parentId: a, name: 'x' });
    expect(temps(pan)).toEqual([]);
  });

  it('a failing undo is logged and reports where the item may be; the first error is thrown', async () => {
    const { pan, a, b, id } = seed();
    pan.failNext('move', undefined); // the move lands
    pan.failNext('move', transient('undo refused')); // the undo's move does not
    pan.fail('rename', 1, () => transient('rename refused'));
    const reported: Place[][] = [];
    const logged: string[] = [];
    const logger: Logger = { ...silentLogger, error: ((_o: unknown, msg: string) => logged.push(msg)) as LogFn };
    const at = { parentId: a, name: 'x' };
    const o = opts({ allOrNothing: true, logger, onUndoFailed: (p) => reported.push(p) });
    await expect(placeRemote(pan, id, at, { parentId: b, name: 'z' }, o)).rejects.toThrow('rename refused');
    expect(reported).toEqual([
      [
        { parentId: b, name: 'x' },
        { parentId: a, name: 'x' },
      ],
    ]);
    expect(logged).toHaveLength(1);
    expect(where(pan, id)).toEqual({ parentId: b, name: 'x' });
    expect(at).toEqual({ parentId: b, name: 'x' });
  });
});
