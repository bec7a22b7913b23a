// Tolerant readers for response `data` objects. Owns: the key-casing leniency the wire needs (fileId vs
// fileID, parentFileId vs parentFileID; 123open-api.md §1 "Decoding leniency") and the value coercions
// (ids as FileId strings, numbers that may arrive as strings or bigint). Invariant: a missing required
// id is an error, never a silent "0".

import { toFileId, type FileId } from '../core/ids.js';
import type { RemoteEntry } from './api.js';
import type { Json } from './json.js';
import { wireTimeMs } from './time.js';

export type Obj = { [k: string]: Json };

export function asObj(v: unknown, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${what}: expected an object`);
  return v as Obj;
}

/** The value under the first of `names` present, compared case-insensitively. */
export function field(o: Obj, ...names: string[]): Json | undefined {
  for (const n of names) if (n in o) return o[n];
  const lower = new Map(Object.keys(o).map((k) => [k.toLowerCase(), k]));
  for (const n of names) {
    const k = lower.get(n.toLowerCase());
    if (k !== undefined) return o[k];
  }
  return undefined;
}

export function idField(o: Obj, ...names: string[]): FileId {
  const v = field(o, ...names);
  if (v === undefined || v === null) throw new TypeError(`missing ${names[0]}`);
  return toFileId(v);
}

export function numField(o: Obj, ...names: string[]): number {
  const v = field(o, ...names);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return 0;
}

export function strField(o: Obj, ...names: string[]): string {
  const v = field(o, ...names);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return '';
}

export function boolField(o: Obj, ...names: string[]): boolean {
  const v = field(o, ...names);
  return v === true || v === 1 || v === '1' || v === 'true';
}

/** A v2 list / infos / detail row → RemoteEntry. */
export function toRemoteEntry(raw: unknown): RemoteEntry {
  const o = asObj(raw, 'file entry');
  const createdAt = wireTimeMs(field(o, 'createAt'));
  const updated = wireTimeMs(field(o, 'updateAt'));
  return {
    id: idField(o, 'fileId', 'fileID'),
    name: strField(o, 'filename', 'fileName'),
    isDir: numField(o, 'type') === 1,
    size: numField(o, 'size'),
    md5: strField(o, 'etag').toLowerCase(),
    parentId: idField(o, 'parentFileId', 'parentFileID'),
    status: numField(o, 'status'),
    trashed: boolField(o, 'trashed'),
    createdAt,
    updatedAt: updated || createdAt,
  };
}
