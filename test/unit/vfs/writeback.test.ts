// Writeback.recover(): what a start finds after a crash - files never closed (dirty, no journal row) and
// staging files no journal row points at - through a second PanVfs over the same store (a restart).
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_INO } from '../../../src/meta/node-store.js';
import { flags, makeHarness, ramp, readAll, ROOT_ID, writeNew, type Harness } from './harness.js';

let h: Harness;
afterEach(() => h?.close());

describe('Writeback.recover', () => {
  it('drops a new file never closed, keeps the uploaded version of an edited one, deletes orphan staging', async () => {
    h = makeHarness({}, (pan) => pan.addFile(ROOT_ID, 'remote.bin', Buffer.from('remote content')));
    await writeNew(h.vfs, '/closed.bin', ramp(100, 1)); // journaled: kept for the upload
    const journaled = h.uploads.last()!.stagingPath;
    const fresh = await h.vfs.create('/open-new.bin', 0o644); // never closed: the daemon "dies" here
    await h.vfs.write('/open-new.bin', fresh, Buffer.from('half'), 4, 0);
    const edited = await h.vfs.open('/remote.bin', flags.RDWR);
    await h.vfs.write('/remote.bin', edited, Buffer.from('EDIT'), 4, 0);
    expect(h.stagingFiles()).toHaveLength(3);
    const newIno = h.store.child(ROOT_INO, 'open-new.bin')!.ino;
    const editedIno = h.store.child(ROOT_INO, 'remote.bin')!.ino;
    expect(h.store.get(editedIno)!.dirty).toBe(true);

    const vfs2 = h.restart();
    await vfs2.writeback.recover();
    expect(h.store.get(newIno)).toBeUndefined(); // its unfinished content is dropped
    expect(h.store.get(editedIno)).toMatchObject({ dirty: false }); // falls back to its remote version
    expect(await readAll(vfs2, '/remote.bin')).toEqual(Buffer.from('remote content'));
    expect(h.stagingFiles().map((f) => `${h.dir}/staging/${f}`)).toEqual([journaled]);
    expect(await readAll(vfs2, '/closed.bin')).toEqual(ramp(100, 1)); // served from its staging file
  });
});
