// Placement: puts one remote item (file or folder) at a {parentId, name} from where it is now. The one copy
// of the move + rename protocol: a rename (vfs/namespace.ts) and an upload's post-commit fix-up
// (upload-queue.ts) both go through placeRemote().
//
// Rules (123 Open refuses a rename into a name taken in the folder the item is in at that moment, and a
// move into a folder that holds the item's name — both answer name-clash — so a change of folder and name
// is two calls and either order can clash):
//  1. One step when only the folder or only the name changes; a clash there is real and is thrown.
//  2. Both change: the order comes from the hints (what the caller's store knows the folders hold): move
//     first unless the destination holds the current name, else rename first unless the current folder
//     holds the new name. No hints: move first.
//  3. A clash at the first step (nothing changed: the hints were stale), or hints saying both orders clash,
//     go through a unique temporary name `.pan123fs-mv-<id>-<t>`: rename to it in the current folder, move,
//     rename to the final name. A clash at a later step is real and is thrown.
//  4. `at` is kept current after every step that landed (and every undo step), so a caller that retries
//     starts from where the item is.
//  5. allOrNothing: a failure part way undoes the steps that landed, in reverse order (each undo recreates
//     a place the item held a moment ago), then rethrows: the item is never left under a third name. An
//     undo that fails too is logged with the places the item may be in and reported through onUndoFailed
//     (the caller relists those folders); the first error is thrown. Without allOrNothing the error is
//     thrown with `at` where the item is (the fix-up retries from there).

import type { Logger } from '../core/logger.js';
import type { PanTree } from '../pan/api.js';
import { isPanError } from '../pan/errors.js';

/** A remote place: a folder id and a name in it. */
export interface Place {
  parentId: string;
  name: string;
}

/** What the caller knows the folders hold (from its store); a hint may be stale, a clash answer corrects it. */
export interface PlacementHints {
  /** the destination folder holds the item's current name: a move first would clash */
  moveClashes: boolean;
  /** the current folder holds the new name: a rename first would clash */
  renameClashes: boolean;
}

export interface PlacementOptions {
  /** the temporary name's time stamp */
  now: () => number;
  hints?: PlacementHints;
  /** undo the steps that landed when a later one fails (rule 5) */
  allOrNothing?: boolean;
  logger?: Logger;
  /** an undo failed too: the item may be in any of these places (rule 5) */
  onUndoFailed?: (mayBeAt: Place[]) => void;
}

export type PlacementApi = Pick<PanTree, 'move' | 'rename'>;

type Step = { kind: 'move'; parentId: string } | { kind: 'rename'; name: string };

/** Move/rename remote item `id` from `at` (kept current, rule 4) to `to`. */
export async function placeRemote(
  api: PlacementApi,
  id: string,
  at: Place,
  to: Place,
  opts: PlacementOptions,
): Promise<void> {
  const moving = at.parentId !== to.parentId;
  const renaming = at.name !== to.name;
  if (!moving && !renaming) return;
  const done: Place[] = []; // the place before each step that landed
  const step = async (s: Step): Promise<void> => {
    const before = { ...at };
    if (s.kind === 'move') {
      await api.move([id], s.parentId);
      at.parentId = s.parentId;
    } else {
      await api.rename(id, s.name);
      at.name = s.name;
    }
    done.push(before);
  };
  const move: Step = { kind: 'move', parentId: to.parentId };
  const rename: Step = { kind: 'rename', name: to.name };
  try {
    if (!moving || !renaming) return await step(moving ? move : rename); // rule 1
    const h = opts.hints ?? { moveClashes: false, renameClashes: false };
    if (!h.moveClashes || !h.renameClashes) {
      const [first, second] = h.moveClashes ? [rename, move] : [move, rename];
      let clashed = false;
      await step(first).catch((e: unknown) => {
        if (!isPanError(e, 'name-clash')) throw e;
        clashed = true; // nothing changed (rule 3)
      });
      if (!clashed) return await step(second);
    }
    await step({ kind: 'rename', name: `.pan123fs-mv-${id}-${opts.now().toString(36)}` });
    await step(move);
    await step(rename);
  } catch (e) {
    if (opts.allOrNothing && done.length > 0) await undo(api, id, at, done, e, opts);
    throw e;
  }
}

/** Rule 5: back through the places in `done`, last first. */
async function undo(
  api: PlacementApi,
  id: string,
  at: Place,
  done: Place[],
  cause: unknown,
  opts: PlacementOptions,
): Promise<void> {
  for (let prev = done.pop(); prev; prev = done.pop()) {
    const here = { ...at };
    try {
      if (prev.parentId !== at.parentId) {
        await api.move([id], prev.parentId);
        at.parentId = prev.parentId;
      }
      if (prev.name !== at.name) {
        await api.rename(id, prev.name);
        at.name = prev.name;
      }
    } catch (e) {
      const mayBeAt = [here, prev];
      opts.logger?.error(
        { op: 'placement', fileId: id, at: here, or: prev, err: String(e), cause: String(cause) },
        'a move/rename failed part way and putting the item back failed too; the next listing shows where it is',
      );
      opts.onUndoFailed?.(mayBeAt);
      return;
    }
  }
}
