// Wire JSON with int64 ids: a small strict parser that returns integers outside the safe range as
// bigint (never rounding an id), a serializer that writes bigint as a raw JSON number, and
// case-insensitive key lookup (123 decodes JSON keys case-insensitively, 123open-api.md §1).
// Invariant: parse(stringify(v)) keeps every id digit; no id ever passes through a JS double.

export type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };

export class JsonSyntaxError extends Error {}

export function parseJson(text: string): Json {
  const p = new Parser(text);
  p.ws();
  const v = p.value();
  p.ws();
  if (p.i !== text.length) throw new JsonSyntaxError(`unexpected data at ${p.i}`);
  return v;
}

class Parser {
  i = 0;
  constructor(private readonly s: string) {}
  ws(): void {
    while (this.i < this.s.length && ' \t\r\n'.includes(this.s[this.i]!)) this.i++;
  }
  fail(): never {
    throw new JsonSyntaxError(`bad JSON at ${this.i}`);
  }
  value(): Json {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [lit, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return v;
      }
    }
    return this.fail();
  }
  object(): Json {
    const out: Record<string, Json> = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail();
      const k = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') this.fail();
      this.ws();
      out[k] = this.value();
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail();
    }
  }
  array(): Json {
    const out: Json[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail();
    }
  }
  string(): string {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(
      this.s.slice(this.i, this.i + 1_000_000),
    );
    if (!m) this.fail();
    this.i += m[0].length;
    return JSON.parse(m[0]) as string;
  }
  number(): number | bigint {
    const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail();
    this.i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }
}

export function stringifyJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
    case 'object':
      break;
    default:
      return 'null';
  }
  if (Array.isArray(v)) return `[${v.map(stringifyJson).join(',')}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${stringifyJson(x)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Look a key up case-insensitively (first match wins). */
export function field(obj: Json | undefined, name: string): Json | undefined {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** An id: a non-negative integer number, bigint, or decimal string. Returns null when not an id. */
export function asId(v: Json | undefined): bigint | null {
  if (typeof v === 'bigint') return v >= 0n && v < 2n ** 63n ? v : null;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : null;
  if (typeof v === 'string' && /^(0|[1-9][0-9]{0,18})$/.test(v.trim())) {
    const b = BigInt(v.trim());
    return b < 2n ** 63n ? b : null;
  }
  return null;
}

/** A non-negative integer count (size, sliceNo, duplicate): number or numeric string. */
export function asInt(v: Json | undefined): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(v.trim())) return Number(v.trim());
  return null;
}
