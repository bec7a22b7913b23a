// NameClaims: which upload run holds which remote name (parent folder id + name), with the reverse index
// (run → its names) and the inos whose upload waits for a name another run holds.
//
// The rules of the upload protocol between the vfs (namespace.ts, writeback.ts) and the upload queue.
// Every rule here is enforced by upload-queue.ts; the vfs only states intents (removed, renaming):
//  1. One run per ino. An item has at most one run; content enqueued while it runs (its rename fixup
//     included) waits for it and uploads next. A new generation aborts the running one (superseded).
//  2. One run per remote name. With duplicate=2 the upload that completes last wins the name, so a run
//     claims `parentId/name` before it starts and keeps the claim until it ends, fixup included; another
//     run for that name waits (woken when the holder ends). A claim belongs to the run, not to the ino: an
//     abandoned item's run may still be finishing a merge, and a later run of the same ino must not
//     release it.
//  3. Commit only on an unchanged generation. Commit and journal-row removal are one transaction, and
//     only for the generation the run started with; a write meanwhile (hold, enqueue) makes the copy
//     stale: it is trashed and the file uploads again.
//  4. A copy whose merge was asked for is followed to its end, then trashed, never abandoned. A run is
//     aborted only where no remote file can result (before create, during the slices, before the first
//     upload_complete); once the merge was asked for the server finishes it whatever we do, so the run
//     polls it to its end and trashes the stale copy. Only shutdown's stop signal abandons polling (the
//     row stays journaled).
//  5. removed(ino): the node is gone; its run stops at the next safe point (rule 4), a copy that still
//     lands is trashed (its commit is refused: the node is gone).
//  6. renaming(ino, to): ino is about to take the remote name `to`. Another run holding `to` is aborted
//     (a live holder restarts under its new name; one already merging is followed to its end, rule 4) and
//     the rename waits for it to end — after at most NAME_WAIT_MS it fails with EBUSY, below the 60 s FUSE
//     rename timeout. ino's own run never blocks its rename (its copy is renamed by the fixup), unless
//     its copy is stale (a newer generation is journaled): that copy keeps the name until it is trashed.

/** Where an upload lands: the remote folder id and the name in it. */
export interface RemoteName {
  parentId: string;
  name: string;
}

const key = (to: RemoteName): string => `${to.parentId}/${to.name}`;

export class NameClaims<Run> {
  private readonly byName = new Map<string, Run>();
  private readonly byRun = new Map<Run, Set<string>>();
  /** inos whose upload waits for a name held by another run */
  private readonly waiting = new Set<number>();

  /** The run holding `to`, if any. */
  holder(to: RemoteName): Run | undefined {
    return this.byName.get(key(to));
  }

  /** `run` takes `to` (the caller checked that no other run holds it). */
  claim(to: RemoteName, run: Run): void {
    const k = key(to);
    this.byName.set(k, run);
    let names = this.byRun.get(run);
    if (!names) {
      names = new Set();
      this.byRun.set(run, names);
    }
    names.add(k);
  }

  /** ino's upload waits for a name another run holds: it is woken when any claim is released. */
  wait(ino: number): void {
    this.waiting.add(ino);
  }

  /** `run` ended: release every name it held. Returns the waiting inos to make due (empty if it held none). */
  release(run: Run): number[] {
    const names = this.byRun.get(run);
    if (!names) return [];
    this.byRun.delete(run);
    for (const k of names) if (this.byName.get(k) === run) this.byName.delete(k);
    const woken = [...this.waiting];
    this.waiting.clear();
    return woken;
  }
}
