// 123 file ids are int64. We carry them as decimal strings so no id ever loses precision in a JS number;
// the root folder is "0". pan/ converts at the wire, meta/ stores them as TEXT.

export type FileId = string;
export const ROOT_ID: FileId = '0';

const ID_RE = /^(0|-?[1-9][0-9]{0,18})$/;

export function isFileId(v: unknown): v is FileId {
  return typeof v === 'string' && ID_RE.test(v);
}

/** Normalise a number / bigint / numeric string into a FileId, or throw TypeError. */
export function toFileId(v: unknown): FileId {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError(`file id ${v} is not a safe integer`);
    return String(v);
  }
  if (typeof v === 'string' && ID_RE.test(v.trim())) return v.trim();
  throw new TypeError(`not a file id: ${JSON.stringify(v)}`);
}
