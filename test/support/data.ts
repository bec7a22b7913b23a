// Deterministic test bytes: the one "ramp" of the suite. Byte i of a seeded file is a multiplicative hash
// of (i, seed), so no two offsets of a file repeat in a short period (a read from the wrong offset shows)
// and two seeds give two different files.
import { createHash } from 'node:crypto';

/** Byte i of the file whose content seed is `seed`. */
export function rampByte(i: number, seed = 0): number {
  return Math.imul((i + seed * 7919) | 0, 0x9e3779b1) >>> 24;
}

/** The bytes [start, start + length) of the file with this seed. */
export function rampAt(start: number, length: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let k = 0; k < length; k++) b[k] = rampByte(start + k, seed);
  return b;
}

/** A whole file of n bytes with this seed. */
export function ramp(n: number, seed = 0): Buffer {
  return rampAt(0, n, seed);
}

export function md5hex(b: Buffer | string): string {
  return createHash('md5').update(b).digest('hex');
}
