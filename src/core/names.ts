// 123 name rules (123open-api.md §4.1, §6): no `"\/:*?|><`, not all spaces, and short: the docs say a
// name must be *less than* 255 characters (elsewhere <256); we enforce the stricter reading, at most 254
// characters (issue 15: 255 is refused with ENAMETOOLONG), and at most 255 UTF-8 bytes (Linux NAME_MAX).
// Checked before any request.

import { FsError } from './errors.js';

export const FORBIDDEN_NAME_CHARS = '"\\/:*?|><';
export const MAX_NAME_CHARS = 254;
export const MAX_NAME_BYTES = 255;

/** Returns null when valid, else a reason. */
export function nameProblem(name: string): { kind: 'EINVAL' | 'ENAMETOOLONG'; reason: string } | null {
  if (name.length === 0) return { kind: 'EINVAL', reason: 'empty name' };
  if (name === '.' || name === '..') return { kind: 'EINVAL', reason: `"${name}" is not a valid name` };
  for (const ch of name) {
    if (FORBIDDEN_NAME_CHARS.includes(ch))
      return { kind: 'EINVAL', reason: `name contains "${ch}", which 123pan forbids (${FORBIDDEN_NAME_CHARS})` };
    if (ch.charCodeAt(0) < 0x20) return { kind: 'EINVAL', reason: 'name contains a control character' };
  }
  if (name.trim() === '') return { kind: 'EINVAL', reason: 'name is all spaces, which 123pan forbids' };
  if ([...name].length > MAX_NAME_CHARS || Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    return {
      kind: 'ENAMETOOLONG',
      reason: `name is longer than ${MAX_NAME_CHARS} characters / ${MAX_NAME_BYTES} bytes`,
    };
  }
  return null;
}

export function assertValidName(name: string): void {
  const p = nameProblem(name);
  if (p) throw new FsError(p.kind, `invalid name ${JSON.stringify(name)}: ${p.reason}`);
}
