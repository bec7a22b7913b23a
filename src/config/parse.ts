// Value parsers for the option table: durations ("5m", "2s", "1h", plain seconds), sizes ("10G", "128M",
// plain bytes), octal umask, booleans. Each throws a ConfigError naming the option.

import type { OptionSpec } from './options.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** milliseconds */
export function parseDuration(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(v);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(v)} (use e.g. 30s, 5m, 1h)`);
  return Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()]!);
}

/** bytes */
export function parseSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(v);
  if (!m) throw new Error(`not a size: ${JSON.stringify(v)} (use e.g. 512M, 10G)`);
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

export function parseValue(spec: OptionSpec, raw: unknown): string | number | boolean {
  try {
    switch (spec.type) {
      case 'string':
        return String(raw);
      case 'bool': {
        if (typeof raw === 'boolean') return raw;
        const s = String(raw).toLowerCase();
        if (['1', 'true', 'yes', 'on'].includes(s)) return true;
        if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
        throw new Error(`not a boolean: ${JSON.stringify(raw)}`);
      }
      case 'int': {
        const n = Number(raw);
        if (!Number.isInteger(n)) throw new Error(`not an integer: ${JSON.stringify(raw)}`);
        return n;
      }
      case 'number': {
        const n = Number(raw);
        if (!Number.isFinite(n) || n < 0) throw new Error(`not a non-negative number: ${JSON.stringify(raw)}`);
        return n;
      }
      case 'duration':
        return typeof raw === 'number' ? raw * 1000 : parseDuration(String(raw));
      case 'size':
        return typeof raw === 'number' ? raw : parseSize(String(raw));
      case 'octal': {
        const s = String(raw);
        if (!/^0?[0-7]{1,4}$/.test(s)) throw new Error(`not an octal mode: ${JSON.stringify(raw)}`);
        return parseInt(s, 8);
      }
    }
  } catch (e) {
    throw new ConfigError(`--${spec.flag}: ${(e as Error).message}`);
  }
}
