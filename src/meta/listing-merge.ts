// The listing merge as a pure planner: the rows a folder holds now, plus a fresh remote listing of it,
// in; the steps that make the store match the listing out. NodeStore applies the steps in one
// transaction, in order. No SQL and no I/O here: every fact about the store comes in through
// ListingState, so a property test can drive the planner on any state.
//
// Rules (ARCHITECTURE.md "Listing races"):
//  - a known remote id keeps its ino, also when renamed, swapped, or moved here from elsewhere;
//  - a clean child whose remote id the listing lacks is deleted (it vanished remotely);
//  - local wins: a dirty node (content not uploaded yet) or one changed after the listing was requested
//    is neither deleted nor overwritten, and it shadows a listed entry of its name;
//  - an entry whose remote id was removed here after the listing was requested is not brought back;
//  - a directory holding files not uploaded yet, or nodes changed after the listing was requested, keeps
//    its place (deleting it would cascade to them);
//  - the server should never list a name twice: the first entry of a name wins.
// Invariant of the plan: applied in order, no step ever puts two rows at one (parent, name). Every node
// that changes place is first parked under a name no real entry can have (parkedName), so swaps and
// rename-then-reuse of a name never clash half way.

import type { ListedChild, NodeRow } from './node-store.js';

/** What the planner needs to know about the store, as of the start of the merge. */
export interface ListingState {
  parentIno: number;
  /** the rows under parentIno now */
  children: readonly NodeRow[];
  /** the row holding this remote id, wherever it is */
  byRemoteId(remoteId: string): NodeRow | undefined;
  /** the inos above ino (its parent, its parent's parent, … the root) */
  ancestors(ino: number): number[];
  /** the node changed locally after the listing was requested */
  changedSince(ino: number): boolean;
  /** the remote id was removed locally after the listing was requested */
  removedSince(remoteId: string): boolean;
  /** the node is a directory with local content not uploaded yet at or below it */
  pendingBelow(ino: number): boolean;
  /** a node below ino changed locally after the listing was requested */
  changedBelow(ino: number): boolean;
}

export type MergeStep =
  /** delete the row (and, by cascade, everything below it) */
  | { kind: 'delete'; ino: number }
  /** move the row under the folder with the temporary name parkedName(ino) */
  | { kind: 'park'; ino: number }
  /** put the row at (folder, entry.name) and take the entry's remote attributes */
  | { kind: 'update'; ino: number; entry: ListedChild }
  /** a new row for the entry (clean, with its remote id) */
  | { kind: 'insert'; entry: ListedChild }
  /** nothing to write: a directory kept because of local changes below it (for a log line) */
  | { kind: 'keep'; row: NodeRow; because: 'pending uploads' | 'changed since the listing' };

/** A name no real entry can have (123 names cannot contain NUL); used while reordering a listing. */
export function parkedName(ino: number): string {
  return `\u0000parked-${ino}`;
}
export const isParked = (name: string): boolean => name.startsWith('\u0000');

export function planListingMerge(state: ListingState, entries: readonly ListedChild[]): MergeStep[] {
  const { parentIno } = state;
  const steps: MergeStep[] = [];
  const local = (n: NodeRow) => n.dirty || state.changedSince(n.ino);
  const keptForLocalBelow = (n: NodeRow): boolean => {
    if (!n.isDir) return false;
    if (state.pendingBelow(n.ino)) steps.push({ kind: 'keep', row: n, because: 'pending uploads' });
    else if (state.changedBelow(n.ino)) steps.push({ kind: 'keep', row: n, because: 'changed since the listing' });
    else return false;
    return true;
  };

  // the folder's names as the steps leave them (parked rows hold names no entry has)
  const occupantOf = new Map<string, NodeRow>();
  for (const n of state.children) occupantOf.set(n.name, n);

  // 1. children gone from the listing
  const listedIds = new Set(entries.map((e) => e.id));
  const deleted = new Set<number>();
  for (const n of state.children) {
    if (n.remoteId === null || listedIds.has(n.remoteId) || local(n) || keptForLocalBelow(n)) continue;
    steps.push({ kind: 'delete', ino: n.ino });
    deleted.add(n.ino);
    occupantOf.delete(n.name);
  }
  const goneWithDeleted = (n: NodeRow) => deleted.has(n.ino) || state.ancestors(n.ino).some((a) => deleted.has(a));

  // 2. the entries to place, and the known row each one maps onto
  const seenNames = new Set<string>();
  const placements: { entry: ListedChild; known: NodeRow | undefined }[] = [];
  for (const entry of entries) {
    if (seenNames.has(entry.name)) continue;
    seenNames.add(entry.name);
    let known = state.byRemoteId(entry.id);
    if (known && goneWithDeleted(known)) known = undefined; // it lived below a folder deleted in step 1
    if (known && local(known)) continue;
    if (!known && state.removedSince(entry.id)) continue;
    placements.push({ entry, known });
  }

  // 3. park every known row that changes place
  for (const { entry, known } of placements) {
    if (!known || (known.parentIno === parentIno && known.name === entry.name)) continue;
    steps.push({ kind: 'park', ino: known.ino });
    if (known.parentIno === parentIno && occupantOf.get(known.name)?.ino === known.ino) occupantOf.delete(known.name);
  }

  // 4. place each entry, clearing its name first when a clean remote row holds it
  for (const { entry, known } of placements) {
    const occupant = occupantOf.get(entry.name);
    if (occupant && occupant.ino !== known?.ino) {
      // local content wins until uploaded, and so does a directory holding local changes: the parked
      // remote node of that name is superseded by it (a parked directory holding local changes stays
      // parked, out of sight, so they are not lost)
      if (local(occupant) || keptForLocalBelow(occupant)) {
        if (known && !(known.isDir && (state.pendingBelow(known.ino) || state.changedBelow(known.ino))))
          steps.push({ kind: 'delete', ino: known.ino });
        continue;
      }
      steps.push({ kind: 'delete', ino: occupant.ino });
      occupantOf.delete(entry.name);
    }
    if (known) {
      steps.push({ kind: 'update', ino: known.ino, entry });
      occupantOf.set(entry.name, { ...known, parentIno, name: entry.name });
    } else {
      steps.push({ kind: 'insert', entry });
      occupantOf.set(entry.name, insertedRow(parentIno, entry));
    }
  }
  return steps;
}

/** The row an insert step creates, as far as the planner looks at it (its ino is not known yet). */
function insertedRow(parentIno: number, e: ListedChild): NodeRow {
  const t = e.updatedAt || e.createdAt;
  return {
    ino: -1,
    remoteId: e.id,
    parentIno,
    name: e.name,
    isDir: e.isDir,
    size: e.size,
    md5: e.md5,
    mtimeMs: t,
    ctimeMs: t,
    status: e.status,
    dirty: false,
    listedAt: null,
  };
}
