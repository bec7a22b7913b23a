// The server-side name rule as the emulator enforces it (an independent reading of 123open-api.md §4.1,
// §6; it deliberately does not import core/names.ts). A name is refused with code 1 and the observed
// message when it: is empty, is all spaces, contains any of "\/:*?|><, or is too long: strict by
// default, 255+ characters refused (the docs say a name must be "less than 255" characters), or with
// the `nameMaxChars: 255` option 256+ (the observed message says "小于256个字符"). Unicode code points.
// Also: category from the extension, and the duplicate=1 auto-suffix "a(1).txt".

import { ApiError, CODE, MSG } from './errors.js';

const FORBIDDEN = '"\\/:*?|><';
/** The strict default: "less than 255 characters". */
export const MAX_NAME_CHARS = 254;

export function isValidName(name: string, maxChars: number = MAX_NAME_CHARS): boolean {
  if (name.length === 0 || name.trim().length === 0) return false;
  for (const ch of name) if (FORBIDDEN.includes(ch)) return false;
  return [...name].length <= maxChars;
}

export function checkName(name: unknown, maxChars: number = MAX_NAME_CHARS): string {
  if (typeof name !== 'string' || !isValidName(name, maxChars)) throw new ApiError(CODE.generic, MSG.nameInvalid);
  return name;
}

/** "a.txt" + 1 → "a(1).txt"; "a" → "a(1)"; ".bashrc" → ".bashrc(1)". */
export function suffixedName(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return `${name}(${n})`;
  return `${name.slice(0, dot)}(${n})${name.slice(dot)}`;
}

const CATEGORIES: Array<[number, string[]]> = [
  [1, ['mp3', 'flac', 'wav', 'aac', 'ogg', 'm4a', 'wma', 'ape']],
  [2, ['mp4', 'mkv', 'avi', 'mov', 'webm', 'flv', 'wmv', 'ts', 'm4v']],
  [3, ['jpg', 'jpeg', 'png', 'gif', 'webp', 'bmp', 'heic', 'tiff']],
];

/** 0 unknown, 1 audio, 2 video, 3 image (folders are 0). */
export function categoryOf(name: string): number {
  const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1).toLowerCase() : '';
  for (const [cat, exts] of CATEGORIES) if (exts.includes(ext)) return cat;
  return 0;
}
