// Reconcile: every start-up repair of the namespace and upload steps a stop (kill -9, power loss) cut off,
// in one order, called once from the daemon start (daemon/run-mount.ts) before the mount serves. The
// journals are written where the steps are made (namespace.ts: kv intents; upload-queue.ts: fix-up and
// attempt records); their formats are unchanged, so a store from an earlier version recovers the same way.
//
// The order, and why:
//  1. local content (Writeback.recover): a dirty node without a journal row was never closed (a new file
//     goes, an existing one keeps its uploaded version); staging files no row points at go. First: the
//     steps below read which nodes exist and which have local content.
//  2. remote rename steps (kv `rename-steps:<id>`): a copy found at the destination takes the name in the
//     store (the file it replaced goes), one found part way is put back, a stale copy (newer content
//     committed meanwhile) goes to the trash. Before 4: whether a rename over a file landed is read from
//     the store this step put right.
//  3. unlinks (kv `unlink:<ino>`): a node whose copy is in the trash (or gone) is forgotten, as the unlink
//     would have; one whose copy is live keeps it.
//  4. renames over a file (kv `rename-replace:<id>`): landed (the source at the destination) → the target
//     stays replaced; else it comes back from the trash, so `mv` was all or nothing. Before 5: the restored
//     target keeps its journal row, so its upload resumes with it.
//  5. the upload queue (UploadQueue.resume): journal rows scheduled, then the journaled rename fix-ups of
//     committed uploads (an upload of the same file waits for its fix-up; the fix-up resolves the name
//     from the store, so after 2–4), then the attempts of files gone since (a stray copy is trashed unless
//     a node knows it, so after 2–4 too). These run in the background, under the queue's own rules.
// A repair whose check fails (offline) keeps its record for the next start; it is logged.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { NodeStore } from '../meta/node-store.js';
import type { PanTree } from '../pan/api.js';
import { isPanError } from '../pan/errors.js';
import { type ReplaceIntent, REPLACE_KEY, STEPS_KEY, type StepsIntent, UNLINK_KEY } from './namespace.js';
import type { Writeback } from './writeback.js';

export interface ReconcileDeps {
  store: NodeStore;
  pan: Pick<PanTree, 'detail' | 'rename' | 'move' | 'recover' | 'trash'>;
  writeback: Writeback;
  clock: Clock;
  logger: Logger;
}

/** The queue's part (step 5). */
export interface QueueRecovery {
  /** schedules the journal rows, then the fix-ups and the strays; returns how many rows */
  resume(): number;
}

export interface ReconcileReport {
  /** namespace intents settled (steps 2–4) */
  intents: number;
  /** journaled uploads resumed (step 5) */
  uploads: number;
}

/** Steps 1–5, in order. */
export async function reconcileAtStart(deps: ReconcileDeps & { queue: QueueRecovery }): Promise<ReconcileReport> {
  await deps.writeback.recover();
  const intents = await reconcileNamespace(deps);
  return { intents, uploads: deps.queue.resume() };
}

/** Steps 2–4: the namespace intents a stop cut off; returns how many were settled. */
export async function reconcileNamespace(deps: ReconcileDeps): Promise<number> {
  const steps = await recoverInterruptedSteps(deps);
  const unlinks = await recoverInterruptedUnlinks(deps);
  return steps + unlinks + (await recoverInterruptedReplaces(deps));
}

/**
 * Start-up, first part: remote renames/moves the store never heard of. Landed: the store follows. Still
 * where it was: nothing to do. Part way (moved, not renamed, or under a temporary name): put back where
 * the store has it, like a failed rename (never under a third name).
 */
async function recoverInterruptedSteps(deps: ReconcileDeps): Promise<number> {
  const { store, pan, logger, clock } = deps;
  let n = 0;
  for (const key of store.kvKeys(STEPS_KEY)) {
    const raw = store.kvGet(key);
    if (raw === undefined) continue;
    const it = JSON.parse(raw) as StepsIntent;
    try {
      const e = await pan.detail(it.id);
      const at = (p: { parentId: string; name: string }) => e.parentId === p.parentId && e.name === p.name;
      const node = store.get(it.ino);
      if (!e.trashed && node?.remoteId && node.remoteId !== it.id && !store.getByRemote(it.id)) {
        // new content of the file committed while the rename ran (found by the crash test): its upload
        // replaced this copy by name in the folder the copy had just left, so the copy is stale wherever
        // the cut-off steps left it; the file keeps the name it had (the rename was never answered)
        logger.warn(
          { op: 'recover', fileId: it.id, name: e.name, to: it.to.name },
          'a rename was cut off by the stop after newer content replaced the file: trashing the old copy',
        );
        await pan.trash([it.id]);
      } else if (!e.trashed && at(it.to)) {
        const other = store.child(it.dstDirIno, it.to.name);
        if (node && node.remoteId === it.id && other && other.ino !== node.ino && !other.isDir) {
          // the file this rename replaced, as the rename would have made it go (found by the crash test:
          // left in the store, a pending upload of it replaced the moved file on the server, duplicate 2)
          const path = `${store.pathOf(it.dstDirIno)}/${it.to.name}`;
          await deps.writeback.removed(other.ino, path);
        }
        if (node && node.remoteId === it.id && !store.child(it.dstDirIno, it.to.name))
          store.rename(node.ino, it.dstDirIno, it.to.name, clock.now());
      } else if (!e.trashed && !at(it.from)) {
        logger.warn(
          { op: 'recover', fileId: it.id, name: e.name, to: it.to.name },
          'a rename was cut off part way by the stop; putting the file back where it was',
        );
        if (e.name !== it.from.name) await pan.rename(it.id, it.from.name);
        if (e.parentId !== it.from.parentId) await pan.move([it.id], it.from.parentId);
      }
      if (node?.parentIno != null) store.invalidateListing(node.parentIno);
      store.invalidateListing(it.dstDirIno);
      store.kvDelete(key);
      n++;
    } catch (err) {
      logger.warn(
        { op: 'recover', fileId: it.id, err: String(err) },
        'could not settle a rename cut off by the stop; the next start tries again',
      );
    }
  }
  return n;
}

/**
 * Start-up: unlinks cut off by a kill (found by the crash test: the node stayed, listed but unreadable,
 * its copy in the trash). A node whose remote copy is in the trash (or gone) is forgotten, as the unlink
 * would have; one whose copy is still live keeps it (the unlink had not reached 123).
 */
async function recoverInterruptedUnlinks(deps: ReconcileDeps): Promise<number> {
  const { store, pan, logger } = deps;
  let n = 0;
  for (const key of store.kvKeys(UNLINK_KEY)) {
    const raw = store.kvGet(key);
    if (raw === undefined) continue;
    const { ino } = JSON.parse(raw) as { ino: number };
    const node = store.get(ino);
    const path = node ? store.pathOf(ino) : `#${ino}`;
    try {
      if (node?.remoteId) {
        const id = node.remoteId;
        const gone = await pan.detail(id).then(
          (e) => e.trashed,
          (e: unknown) => {
            if (isPanError(e, 'not-found')) return true;
            throw e;
          },
        );
        if (gone) {
          await deps.writeback.removed(ino, path);
          logger.info({ op: 'recover', path }, 'an unlink cut off by the stop had trashed the file: it is gone');
        }
      }
      store.kvDelete(key);
      n++;
    } catch (e) {
      logger.warn({ op: 'recover', path, err: String(e) }, 'could not check an unlink cut off by the stop');
    }
  }
  return n;
}

/**
 * Start-up: renames over a file whose target went to the trash and that neither landed nor were undone
 * (the daemon was killed in between). The source found at the destination means it landed: the target
 * is forgotten. Otherwise the target comes back from the trash, so `mv` was all or nothing. A key
 * whose check fails (offline) stays for the next start.
 */
async function recoverInterruptedReplaces(deps: ReconcileDeps): Promise<number> {
  const { store, pan, logger, clock } = deps;
  let n = 0;
  for (const key of store.kvKeys(REPLACE_KEY)) {
    const raw = store.kvGet(key);
    if (raw === undefined) continue;
    const it = JSON.parse(raw) as ReplaceIntent;
    const path = store.get(it.dstDirIno) ? `${store.pathOf(it.dstDirIno)}/${it.to.name}` : it.to.name;
    try {
      const src = store.get(it.srcIno);
      const inStore = !!src && src.parentIno === it.dstDirIno && src.name === it.to.name;
      let landed = inStore;
      const srcId = src?.remoteId ?? it.srcId;
      if (!landed && srcId !== null) {
        const e = await pan.detail(srcId);
        landed = !e.trashed && e.parentId === it.to.parentId && e.name === it.to.name;
      }
      if (landed) {
        if (it.dstIno !== it.srcIno && store.get(it.dstIno)) await deps.writeback.removed(it.dstIno, path);
        if (src && !inStore && !store.child(it.dstDirIno, it.to.name))
          store.rename(src.ino, it.dstDirIno, it.to.name, clock.now());
        logger.info({ op: 'recover', path }, 'a rename cut off by the stop had landed; its target stays replaced');
      } else {
        const target = await pan.detail(it.replacedId).catch(() => null);
        if (target?.trashed) {
          const abnormal = await pan.recover([it.replacedId]);
          if (abnormal.length > 0)
            logger.error(
              { op: 'recover', path, fileId: it.replacedId },
              'could not restore the target of a cut rename',
            );
          else {
            store.forgetRemoved(it.replacedId);
            logger.warn(
              { op: 'recover', path, fileId: it.replacedId },
              'a rename over this file was cut off by the stop: the file was restored from the 123 trash',
            );
          }
        }
        store.invalidateListing(it.dstDirIno);
      }
      store.kvDelete(key);
      n++;
    } catch (e) {
      logger.warn({ op: 'recover', path, err: String(e) }, 'could not check a rename cut off by the stop; next start');
    }
  }
  return n;
}
