// Namespace: mkdir, rmdir, unlink and rename over the store, the remote tree and the writeback.
//
// Invariants:
//  - remote namespace changes (mkdir, rename, move, trash) happen remotely first, then in the store in one
//    step, so `ls` right after shows the new state.
//  - a file's upload is told through the writeback (removed / renaming): the queue side of the protocol
//    (one run per ino, one run per remote name, commit only on an unchanged generation, a merge asked for
//    is followed to its end and then trashed) is in write/name-claims.ts and write/upload-queue.ts.
//  - every op here (and create, pan-vfs.ts) holds its names (name-locks.ts: per folder ino + name, a rename
//    both, sorted): while a rename waits for no other upload to hold the destination name, no local op can
//    take that name, so the destination is decided once (a file a listing brought in meanwhile: EEXIST).
//  - the vfs side of the protocol, here: an unlink trashes every remote id the node has had (an upload may
//    commit while a trash call is in flight); a rename waits until no other upload holds the destination
//    name, trashes the copy a commit replaced while the remote rename ran and moves the new one; a rename
//    over a file that fails after the target went to the trash restores it while the source is known to
//    be where it was.
//  - a file replaced by a rename keeps its node, its local content and its journal row until the remote
//    rename landed (its upload is held meanwhile): a failed rename leaves it exactly as it was, never with
//    the older remote copy the trash gave back (issue 19 item 4: an append to that copy uploaded old bytes,
//    zeros and the appended tail).
//  - the target's trash is journaled (kv `rename-replace:<id>`) before it is asked for and forgotten once
//    the rename landed or was undone; a kill in between leaves the key, and the next start restores the
//    target unless the source is found at the destination. The remote steps are journaled too (kv
//    `rename-steps:<id>`): a source found at the destination takes the name in the store, and a file still
//    there (the target, not uploaded yet) goes, as the rename would have made it. These keys are written
//    here and read at start-up by reconcile.ts (the one owner of start-up repairs).
//  - the remote move + rename is write/placement.ts's (all or nothing here: never a third name).
//  - an unlink of an uploaded file is journaled (kv `unlink:<ino>`) until the store forgot the node; the next
//    start forgets a node whose copy went to the trash (reconcile.ts).
// No store transaction spans an await; every row is read again after one.

import type { Clock } from '../core/clock.js';
import { FsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assertValidName } from '../core/names.js';
import type { NodeRow, NodeStore } from '../meta/node-store.js';
import type { PanTree } from '../pan/api.js';
import { isPanError } from '../pan/errors.js';
import { parentAndName, splitPath } from './paths.js';
import { placeRemote } from '../write/placement.js';
import type { NameKey, NameLocks } from './name-locks.js';
import type { ReadPort } from './ports.js';
import { type DirectoryLister, guard, type Tree } from './tree.js';
import type { Writeback } from './writeback.js';

/** The remote calls the namespace makes. */
export type NamespacePan = Omit<PanTree, 'listPage' | 'listAll'> & DirectoryLister;

export interface NamespaceDeps {
  store: NodeStore;
  pan: NamespacePan;
  tree: Tree;
  reader: ReadPort;
  writeback: Writeback;
  clock: Clock;
  logger: Logger;
  /** the name locks create shares (name-locks.ts) */
  names: NameLocks;
}

/** kv key prefix of a rename that sent its target to the trash and has not landed or been undone yet */
export const REPLACE_KEY = 'rename-replace:';
/** kv key prefix of a remote rename/move asked for and not recorded in the store yet */
export const STEPS_KEY = 'rename-steps:';
/** kv key prefix of an unlink whose trash was asked for and not recorded in the store yet */
export const UNLINK_KEY = 'unlink:';

export interface StepsIntent {
  id: string;
  ino: number;
  dstDirIno: number;
  from: { parentId: string; name: string };
  to: { parentId: string; name: string };
}

export interface ReplaceIntent {
  /** the target's remote id, in the trash until the rename lands */
  replacedId: string;
  dstIno: number;
  dstDirIno: number;
  srcIno: number;
  srcId: string | null;
  to: { parentId: string; name: string };
}

/** Where a remote file was before a rename/move of it was asked for (parentId '' = unknown). */
type RemotePlace = { id: string; parentId: string; name: string };

/** A hidden entry (review-rejected) still holds its name remotely: refuse to reuse it. */
export function assertNameFree(
  store: NodeStore,
  dir: NodeRow,
  name: string,
  visible: NodeRow | undefined,
  path: string,
): void {
  const any = store.child(dir.ino, name);
  if (any && any.ino !== visible?.ino)
    throw new FsError(
      'EEXIST',
      `${path}: the name is taken by an entry hidden from the mount (e.g. review-rejected by 123pan)`,
    );
}

export class Namespace {
  constructor(private readonly deps: NamespaceDeps) {}

  /**
   * The name keys of paths (their parent folder, looked up as the op would, and their last component; the
   * mount root has none), for NameLocks.
   */
  async nameKeys(...paths: string[]): Promise<NameKey[]> {
    const keys: NameKey[] = [];
    for (const path of paths) {
      if (splitPath(path).length === 0) continue;
      const { parent, name } = parentAndName(path);
      const dir = await guard(`lookup ${path}`, () => this.deps.tree.lookupDir(parent));
      keys.push({ dirIno: dir.ino, name });
    }
    return keys;
  }

  /** Run fn holding the names of paths (name-locks.ts). */
  async withNames<T>(paths: string[], fn: () => Promise<T>): Promise<T> {
    return this.deps.names.lock(await this.nameKeys(...paths), fn);
  }

  async mkdir(path: string): Promise<void> {
    assertValidName(parentAndName(path).name); // before any lookup
    return this.withNames([path], () => this.mkdirLocked(path));
  }

  private async mkdirLocked(path: string): Promise<void> {
    const { store, tree, pan, clock } = this.deps;
    const { parent, name } = parentAndName(path);
    assertValidName(name);
    const dir = await tree.lookupDir(parent);
    if (await tree.child(dir, name)) throw new FsError('EEXIST', `${path}: already exists`);
    assertNameFree(store, dir, name, undefined, path);
    const id = await guard(`mkdir ${path}`, () => pan.mkdir(dir.remoteId!, name));
    const now = clock.now();
    const ino = store.insert({ remoteId: id, parentIno: dir.ino, name, isDir: true, now });
    store.markListed(ino, now);
  }

  rmdir(path: string): Promise<void> {
    return this.withNames([path], () => this.rmdirLocked(path));
  }

  private async rmdirLocked(path: string): Promise<void> {
    const { store, tree, pan } = this.deps;
    const n = await this.lookup(path);
    if (!n.isDir) throw new FsError('ENOTDIR', `${path}: not a directory`);
    if (n.parentIno === null) throw new FsError('EBUSY', 'cannot remove the mount root');
    if ((await tree.children(n)).length > 0 || store.hasChildren(n.ino))
      throw new FsError('ENOTEMPTY', `${path}: directory not empty`);
    await guard(`rmdir ${path}`, () => pan.trash([n.remoteId!]));
    store.delete(n.ino);
  }

  unlink(path: string): Promise<void> {
    return this.withNames([path], () => this.unlinkLocked(path));
  }

  private async unlinkLocked(path: string): Promise<void> {
    const n = await this.lookup(path);
    if (n.isDir) throw new FsError('EISDIR', `${path}: is a directory`);
    await this.removeFile(n, path);
  }

  /** Trash the remote file (if any), stop its upload, forget it; open handles keep reading. */
  private async removeFile(n: NodeRow, path: string): Promise<string | null> {
    const { store } = this.deps;
    // journaled: a kill after the trash and before the store forgets the node is finished at the next start
    const key = `${UNLINK_KEY}${n.ino}`;
    if (n.remoteId !== null) store.kvSet(key, JSON.stringify({ ino: n.ino }));
    try {
      const trashed = await this.trashFile(n, path);
      // the file is gone remotely: the store forgets it and its upload stops (local clean-up failures are
      // logged, so the caller still learns which remote id went to the trash)
      if (store.get(n.ino)) await this.deps.writeback.removed(n.ino, path);
      return trashed;
    } finally {
      store.kvDelete(key);
    }
  }

  /** Trash every remote id the node has had (none for a file never uploaded); returns the last one. */
  private async trashFile(n: NodeRow, path: string): Promise<string | null> {
    const { store, pan, reader } = this.deps;
    // Trash every remote id the node has had. An upload of new content that commits while a trash call
    // is in flight gives the node a new id; left alone it would come back with the next listing.
    let trashed: string | null = null;
    for (;;) {
      const cur = store.get(n.ino);
      if (!cur) return trashed; // removed meanwhile (a concurrent unlink or listing)
      n = cur;
      if (n.remoteId === null || n.remoteId === trashed) break;
      const id: string = n.remoteId;
      await guard(`unlink ${path}`, () => pan.trash([id]));
      reader.dropFile(id);
      trashed = id;
    }
    return trashed;
  }

  /**
   * rename(2), holding both names: no local op takes the destination name while the rename waits for the
   * upload queue to release it (writeback.renaming), so the destination is decided once.
   */
  rename(from: string, to: string): Promise<void> {
    return this.withNames([from, to], () => this.renameLocked(from, to));
  }

  private async renameLocked(from: string, to: string): Promise<void> {
    const { store, tree, logger } = this.deps;
    if (splitPath(from).length === 0) throw new FsError('EBUSY', 'cannot rename the mount root');
    // like rename(2): both parent folders first (ENOTDIR/ENOENT in a prefix), then the source (ENOENT
    // even when from === to), then the destination
    await guard(`lookup ${from}`, () => tree.lookupDir(parentAndName(from).parent));
    const { parent, name } = parentAndName(to);
    const dstDir = await guard(`lookup ${to}`, () => tree.lookupDir(parent));
    const src = await this.lookup(from);
    if (from === to) return;
    if (src.parentIno === null) throw new FsError('EBUSY', 'cannot rename the mount root');
    assertValidName(name);
    if (src.isDir && this.isAncestor(src.ino, dstDir.ino))
      throw new FsError('EINVAL', `${from}: cannot move a directory into itself`);
    const dst0 = await tree.child(dstDir, name);
    if (dst0 && dst0.ino !== src.ino && this.isAncestor(dst0.ino, src.ino))
      throw new FsError('ENOTEMPTY', `${to}: is a folder above ${from}`); // rename(2) answers so
    let replaced: string | null = null; // the remote id of the file or folder this rename sent to the trash
    /** destination files being replaced: kept (held) until the remote rename landed */
    const replacing: number[] = [];
    const intents: string[] = [];
    const progress: { asked: RemotePlace | null } = { asked: null };
    try {
      const dst = await tree.child(dstDir, name);
      if (dst && dst.ino === src.ino) return;
      assertNameFree(store, dstDir, name, dst, to);
      if (dst?.remoteId && dstDir.remoteId !== null) {
        // journaled before the trash: a kill before the rename landed is undone at the next start
        const key = `${REPLACE_KEY}${dst.remoteId}`;
        const intent: ReplaceIntent = {
          replacedId: dst.remoteId,
          dstIno: dst.ino,
          dstDirIno: dstDir.ino,
          srcIno: src.ino,
          srcId: store.get(src.ino)?.remoteId ?? null,
          to: { parentId: dstDir.remoteId, name },
        };
        store.kvSet(key, JSON.stringify(intent));
        intents.push(key);
      }
      if (dst) replaced = await this.replaceTarget(src, dst, to, replacing);
      // An upload still running for the destination name (of the file just replaced, or unlinked a moment
      // ago) would land there after the rename; with duplicate 2 the server would trash what we moved in.
      if (dstDir.remoteId !== null) await this.deps.writeback.renaming(src.ino, { parentId: dstDir.remoteId, name });
      // no local op took the name meanwhile (the name lock); a listing may have brought another client's file
      if (!store.get(dstDir.ino)) throw new FsError('ENOENT', `${to}: the destination folder was removed`);
      const now = store.child(dstDir.ino, name);
      if (now && now.ino !== src.ino && !replacing.includes(now.ino))
        throw new FsError('EEXIST', `${to}: another client took this name while the rename waited`);
      await this.renameRemote(src.ino, dstDir, name, from, to, progress, replacing, intents);
    } catch (e) {
      // Undo only while the source has not been sent anywhere: once a remote rename/move of it was
      // asked for, it may hold the name (a retried call that landed, or a move done before a failed
      // rename), and restoring the target there could clash or make a second file of that name.
      const asked = progress.asked;
      const ids = [asked?.id, store.get(src.ino)?.remoteId].filter((x): x is string => !!x);
      if (replaced !== null && (!asked || !(await this.mayHoldName(ids, dstDir.remoteId, name)))) {
        await this.undoReplace(replaced, dstDir, to);
        await this.endReplacing(replacing, false, to);
      } else if (replaced === null) await this.endReplacing(replacing, false, to);
      else {
        await this.endReplacing(replacing, true, to); // where the name is now is unknown: as before, it goes
        logger.error(
          { op: 'rename', path: to, fileId: replaced, err: String(e) },
          'the rename failed part way; the replaced file stays in the 123 trash',
        );
        store.invalidateListing(dstDir.ino);
        const srcDir = store.get(src.ino)?.parentIno;
        if (srcDir !== undefined && srcDir !== null) store.invalidateListing(srcDir);
      }
      throw e;
    } finally {
      for (const k of intents) store.kvDelete(k); // landed, undone, or left as logged
    }
  }

  /**
   * A rename over an existing file failed after that file was sent to the trash: restore it (recover),
   * so a failed `mv` leaves the destination as it was, and relist the folder to pick it up again.
   */
  private async undoReplace(id: string, dstDir: NodeRow, to: string): Promise<void> {
    const { store, pan, logger } = this.deps;
    try {
      const abnormal = await pan.recover([id]);
      if (abnormal.length > 0)
        logger.error(
          { op: 'rename', path: to, fileId: id },
          'the rename failed and the replaced file could not be restored from the 123 trash',
        );
      else {
        store.forgetRemoved(id); // listings may show it again
        logger.warn(
          { op: 'rename', path: to, fileId: id },
          'the rename failed; the replaced file was restored from the 123 trash',
        );
      }
    } catch (e) {
      logger.error(
        { op: 'rename', path: to, fileId: id, err: String(e) },
        'the rename failed and restoring the replaced file from the 123 trash failed too',
      );
    }
    store.invalidateListing(dstDir.ino);
  }

  /**
   * Whether one of the source's remote copies may hold the destination name after a failed rename (then
   * restoring the target could clash or make a second file of that name). A copy in the trash or
   * elsewhere does not; one that cannot be looked up may.
   */
  private async mayHoldName(ids: string[], parentId: string | null, name: string): Promise<boolean> {
    for (const id of new Set(ids)) {
      try {
        const e = await this.deps.pan.detail(id);
        if (!e.trashed && e.parentId === parentId && e.name === name) return true;
      } catch (e) {
        if (isPanError(e, 'not-found')) continue;
        this.deps.logger.warn(
          { op: 'rename', fileId: id, err: String(e) },
          'could not tell where the source of a failed rename is',
        );
        return true; // unknown: do not risk a second file of that name
      }
    }
    return false;
  }

  /** The remote part of a rename, then the store's. */
  private async renameRemote(
    ino: number,
    dstDir: NodeRow,
    name: string,
    from: string,
    to: string,
    progress: { asked: RemotePlace | null },
    replacing: number[],
    intents: string[],
  ): Promise<void> {
    const { store, pan, reader, clock } = this.deps;
    // read again after the awaits: an upload may have committed (new remote id) or the file gone
    let cur = store.get(ino);
    if (!cur) throw new FsError('ENOENT', `${from}: removed while renaming`);
    for (let moved: string | null = null; cur.remoteId !== null && cur.remoteId !== moved; ) {
      if (moved !== null) {
        // An upload committed while the remote rename ran: it saw the old name (no fixup), so its new copy
        // is still there, while the copy it replaces was just renamed into the new name. Trash that one
        // and move the new copy.
        const stale = moved;
        await guard(`rename ${from} -> ${to}`, () => pan.trash([stale])).catch((e) => {
          if (!(e instanceof FsError && e.kind === 'ENOENT')) throw e; // the upload's fix-up trashed it already
        });
        reader.dropFile(stale);
      }
      const n: NodeRow = cur;
      const fromDir = n.parentIno === null ? undefined : store.get(n.parentIno)?.remoteId;
      progress.asked ??= { id: n.remoteId!, parentId: fromDir ?? '', name: n.name }; // '' never matches: no undo
      if (fromDir && dstDir.remoteId) {
        // journaled: a kill between the remote steps, or before the store learns of them, is settled at start
        const steps: StepsIntent = {
          id: n.remoteId!,
          ino,
          dstDirIno: dstDir.ino,
          from: { parentId: fromDir, name: n.name },
          to: { parentId: dstDir.remoteId, name },
        };
        const key = `${STEPS_KEY}${n.remoteId}`;
        store.kvSet(key, JSON.stringify(steps));
        intents.push(key);
      }
      try {
        await guard(`rename ${from} -> ${to}`, () => this.remoteRename(n, dstDir, name));
      } catch (e) {
        // found by the crash test: an upload of new content committed meanwhile, and its post-commit
        // fix-up trashed this copy (the one the node had): rename the new copy instead
        const now = store.get(ino);
        if (e instanceof FsError && e.kind === 'ENOENT' && now?.remoteId && now.remoteId !== n.remoteId) {
          cur = now;
          moved = null;
          continue;
        }
        // found by the model test through a mount: an upload of newer content landed under the file's name
        // (duplicate 2 sent this copy to the trash), then was trashed itself as stale (written again). The
        // file has no remote copy now, and its journaled content uploads under whatever name it has then:
        // the rename is the store's only
        if (e instanceof FsError && e.kind === 'ENOENT' && now && this.deps.writeback.pendingUpload(ino)) {
          cur = now;
          break;
        }
        throw e;
      }
      moved = n.remoteId;
      cur = store.get(ino);
      if (!cur) throw new FsError('ENOENT', `${from}: removed while renaming`);
    }
    // the replaced files leave the store in the same synchronous stretch (removed() forgets the node before
    // its first await), so the name is free for the source
    const gone = this.endReplacing(replacing, true, to);
    store.rename(cur.ino, dstDir.ino, name, clock.now());
    await gone;
  }

  /**
   * The rename is over: the destination files it replaced are forgotten (`done`: their content and upload
   * go, as after an unlink) or, when it failed, keep their node, content and upload (un-held).
   */
  private async endReplacing(replacing: number[], done: boolean, to: string): Promise<void> {
    const gone: Promise<void>[] = [];
    for (const ino of replacing.splice(0)) {
      if (done)
        gone.push(this.deps.writeback.removed(ino, to)); // each forgets its node before its first await
      else this.deps.writeback.replaceFailed(ino);
    }
    await Promise.all(gone);
  }

  /**
   * Sends the destination to the 123 trash; returns the remote id it trashed last (null if none). A file
   * destination stays in the store (its upload held, `replacing` lists it) until the rename landed.
   */
  private async replaceTarget(src: NodeRow, dst: NodeRow, to: string, replacing: number[]): Promise<string | null> {
    const { store, tree, pan } = this.deps;
    if (dst.isDir && !src.isDir) throw new FsError('EISDIR', `${to}: is a directory`);
    if (!dst.isDir && src.isDir) throw new FsError('ENOTDIR', `${to}: not a directory`);
    if (dst.isDir && ((await tree.children(dst)).length > 0 || store.hasChildren(dst.ino)))
      throw new FsError('ENOTEMPTY', `${to}: directory not empty`);
    if (dst.isDir) {
      await guard(`rename over ${to}`, () => pan.trash([dst.remoteId!]));
      store.delete(dst.ino);
      return dst.remoteId;
    }
    if (!replacing.includes(dst.ino)) {
      replacing.push(dst.ino);
      this.deps.writeback.replacing(dst.ino); // no upload of it takes the name while the rename runs
    }
    return this.trashFile(dst, to); // the replaced version goes to the 123 trash
  }

  /**
   * move (when the parent changes) and rename (when the name changes), all or nothing, through
   * write/placement.ts (its header states the rules); the order is hinted by what the store knows both
   * folders hold. A failing undo leaves the item elsewhere: both folders are listed again.
   */
  private async remoteRename(src: NodeRow, dstDir: NodeRow, name: string): Promise<void> {
    const { store, pan, clock, logger } = this.deps;
    const moving = src.parentIno !== dstDir.ino;
    const srcDir = src.parentIno === null ? undefined : store.get(src.parentIno);
    const fromId = moving ? (srcDir?.remoteId ?? null) : dstDir.remoteId;
    if (fromId === null) throw new FsError('EIO', `${src.name}: the source folder has no remote id`);
    const taken = (dirIno: number | undefined, n: string) => {
      const c = dirIno === undefined ? undefined : store.child(dirIno, n);
      return c !== undefined && c.ino !== src.ino;
    };
    await placeRemote(
      pan,
      src.remoteId!,
      { parentId: fromId, name: src.name },
      { parentId: dstDir.remoteId!, name },
      {
        now: () => clock.now(),
        hints: { moveClashes: taken(dstDir.ino, src.name), renameClashes: taken(srcDir?.ino, name) },
        allOrNothing: true,
        logger,
        onUndoFailed: () => {
          if (src.parentIno !== null) store.invalidateListing(src.parentIno);
          store.invalidateListing(dstDir.ino);
        },
      },
    );
  }

  private isAncestor(ancestor: number, ino: number): boolean {
    const { store } = this.deps;
    for (let cur = store.get(ino); cur; cur = cur.parentIno === null ? undefined : store.get(cur.parentIno)) {
      if (cur.ino === ancestor) return true;
    }
    return false;
  }

  private lookup(path: string): Promise<NodeRow> {
    return guard(`lookup ${path}`, () => this.deps.tree.lookup(path));
  }
}
