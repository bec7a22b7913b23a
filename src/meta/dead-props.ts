// WebDAV dead properties (PROPPATCH/PROPFIND), stored per inode in the metadata store: 123 keeps none, so
// they are local to this machine. Rows go with their node (ON DELETE CASCADE); a rename keeps the ino and
// so the properties; COPY copies them. The only SQL for the dead_props table (schema in db.ts, v3).

import type { MetaDb } from './db.js';

export interface DeadProp {
  ns: string;
  name: string;
  /** self-contained XML (webdav/xml.ts serialize) or escaped text */
  value: string;
}

export interface DeadPropChange {
  ns: string;
  name: string;
  /** null: remove */
  value: string | null;
}

export class DeadProps {
  private readonly sel;
  private readonly put;
  private readonly del;
  private readonly cp;

  constructor(private readonly db: MetaDb) {
    this.sel = db.prepare('SELECT ns, name, value FROM dead_props WHERE ino = ? ORDER BY ns, name');
    this.put = db.prepare(
      'INSERT INTO dead_props (ino, ns, name, value) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (ino, ns, name) DO UPDATE SET value = excluded.value',
    );
    this.del = db.prepare('DELETE FROM dead_props WHERE ino = ? AND ns = ? AND name = ?');
    this.cp = db.prepare(
      'INSERT OR REPLACE INTO dead_props (ino, ns, name, value) ' +
        'SELECT ?, ns, name, value FROM dead_props WHERE ino = ?',
    );
  }

  list(ino: number): DeadProp[] {
    return this.sel.all(ino) as DeadProp[];
  }

  /** All changes in one transaction (PROPPATCH is atomic). A node gone meanwhile fails the foreign key. */
  apply(ino: number, changes: readonly DeadPropChange[]): void {
    this.db.transaction(() => {
      for (const c of changes) {
        if (c.value === null) this.del.run(ino, c.ns, c.name);
        else this.put.run(ino, c.ns, c.name, c.value);
      }
    })();
  }

  copy(fromIno: number, toIno: number): void {
    this.cp.run(toIno, fromIno);
  }
}
