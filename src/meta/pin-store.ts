// PinStore: the statements over `pins` (db.ts). A pin names a node by ino: it follows the node through
// rename and move and is deleted with it (ON DELETE CASCADE). Every method is synchronous.

import type { MetaDb } from './db.js';

export class PinStore {
  private readonly q;

  constructor(db: MetaDb) {
    this.q = {
      add: db.prepare('INSERT INTO pins (ino, pinned_at) VALUES (?, ?) ON CONFLICT(ino) DO NOTHING'),
      remove: db.prepare('DELETE FROM pins WHERE ino = ?'),
      has: db.prepare('SELECT 1 AS x FROM pins WHERE ino = ?'),
      all: db.prepare('SELECT ino FROM pins ORDER BY ino'),
    };
  }

  /** true if the pin is new */
  add(ino: number, now: number): boolean {
    return this.q.add.run(ino, now).changes > 0;
  }

  /** true if there was a pin on exactly this ino */
  remove(ino: number): boolean {
    return this.q.remove.run(ino).changes > 0;
  }

  has(ino: number): boolean {
    return this.q.has.get(ino) !== undefined;
  }

  all(): number[] {
    return (this.q.all.all() as { ino: number }[]).map((r) => r.ino);
  }
}
