// Lossless JSON for the 123 wire. Owns: parsing integers beyond 2^53 without precision loss (they come
// back as bigint; pan/ turns ids into FileId strings) and writing ids as raw JSON numbers (bigint values
// are emitted as their digits). Invariant: parse(stringify(x)) keeps every integer exact. The parser is a
// small recursive-descent one because Node 20's JSON.parse has no access to a number's source text.

export type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WS_RE = /[ \t\n\r]*/y;

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new SyntaxError(`bad JSON at ${this.pos}: ${what}`);
  }

  ws(): void {
    WS_RE.lastIndex = this.pos;
    WS_RE.exec(this.s);
    this.pos = WS_RE.lastIndex;
  }

  value(): Json {
    this.ws();
    const c = this.s[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [lit, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.s.startsWith(lit, this.pos)) {
        this.pos += lit.length;
        return v;
      }
    }
    return this.fail('unexpected token');
  }

  object(): Json {
    const out: { [k: string]: Json } = {};
    this.pos++;
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail('expected key');
      const k = this.string();
      this.ws();
      if (this.s[this.pos++] !== ':') this.fail('expected :');
      Object.defineProperty(out, k, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected , or }');
    }
  }

  array(): Json {
    const out: Json[] = [];
    this.pos++;
    this.ws();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected , or ]');
    }
  }

  string(): string {
    const start = this.pos;
    let i = start + 1;
    let escaped = false;
    for (; i < this.s.length; i++) {
      const c = this.s.charCodeAt(i);
      if (c === 0x5c) {
        escaped = true;
        i++;
        continue;
      }
      if (c === 0x22) break;
    }
    if (i >= this.s.length) this.fail('unterminated string');
    this.pos = i + 1;
    const raw = this.s.slice(start, i + 1);
    return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  }

  number(): number | bigint {
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.s);
    if (!m) return this.fail('bad number');
    this.pos = NUMBER_RE.lastIndex;
    const text = m[0];
    const n = Number(text);
    if (/^-?\d+$/.test(text) && !Number.isSafeInteger(n)) return BigInt(text);
    return n;
  }
}

/** JSON.parse, except integers outside ±(2^53−1) become bigint. */
export function parseJson(text: string): Json {
  const p = new Parser(text);
  const v = p.value();
  p.ws();
  if (p.pos !== text.length) p.fail('trailing data');
  return v;
}

/** JSON.stringify, except bigint values are written as raw integers (how ids go on the wire). */
export function stringifyJson(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : stringifyJson(x))).join(',')}]`;
  if (typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x !== undefined) parts.push(`${JSON.stringify(k)}:${stringifyJson(x)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A FileId as it goes into a request body: a raw JSON integer. */
export function wireId(id: string): bigint {
  return BigInt(id);
}
