// Wire plumbing shared by the routes: the response envelope {code, message, data, "x-traceID"} (always
// HTTP 200 for business errors), bounded body reading, JSON body decoding, exact-case query parameters.
// Invariant: every API answer goes through sendEnvelope; ids in data are bigint and serialise exactly.

import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, CODE, paramError } from './errors.js';
import { asId, asInt, field, JsonSyntaxError, parseJson, stringifyJson, type Json } from './json.js';

/** JSON bodies are small (batch ids ≤100); 1 MiB is generous. */
const MAX_JSON_BODY = 1024 * 1024;

export function traceId(): string {
  return `${crypto.randomUUID()}_kong-emulator`;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = stringifyJson(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendEnvelope(res: ServerResponse, code: number, message: string, data: unknown): void {
  sendJson(res, 200, { code, message, data: code === CODE.ok ? (data ?? null) : null, 'x-traceID': traceId() });
}

export function sendOk(res: ServerResponse, data: unknown): void {
  sendEnvelope(res, CODE.ok, 'ok', data);
}

export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw paramError('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The JSON object body (keys are looked up case-insensitively with body.get). */
export async function readJson(req: IncomingMessage): Promise<Body> {
  const text = (await readBody(req)).toString('utf8');
  let v: Json;
  try {
    v = text.trim() === '' ? {} : parseJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw paramError('body is not JSON');
    throw e;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw paramError('body is not a JSON object');
  return new Body(v);
}

/** Typed, case-insensitive accessors over a JSON object body; each throws code 1 when invalid. */
export class Body {
  constructor(readonly raw: Json) {}
  has(name: string): boolean {
    const v = field(this.raw, name);
    return v !== undefined && v !== null;
  }
  id(name: string): bigint {
    const v = asId(field(this.raw, name));
    if (v === null) throw paramError(name);
    return v;
  }
  int(name: string): number {
    const v = asInt(field(this.raw, name));
    if (v === null) throw paramError(name);
    return v;
  }
  optInt(name: string, dflt: number): number {
    return this.has(name) ? this.int(name) : dflt;
  }
  str(name: string): string {
    const v = field(this.raw, name);
    if (typeof v !== 'string') throw paramError(name);
    return v;
  }
  bool(name: string, dflt: boolean): boolean {
    const v = field(this.raw, name);
    if (v === undefined || v === null) return dflt;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 1 || v === '1') return true;
    if (v === 'false' || v === 0 || v === '0') return false;
    throw paramError(name);
  }
  ids(name: string, max: number): bigint[] {
    const v = field(this.raw, name);
    if (!Array.isArray(v) || v.length === 0 || v.length > max) throw paramError(name);
    return v.map((x) => {
      const id = asId(x);
      if (id === null) throw paramError(name);
      return id;
    });
  }
  array(name: string): Json[] {
    const v = field(this.raw, name);
    if (!Array.isArray(v)) throw paramError(name);
    return v;
  }
}

/** Query parameters are case-sensitive: a wrong-case name is simply absent. */
export function queryId(url: URL, name: string, required = true): bigint | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') {
    if (required) throw paramError(name);
    return undefined;
  }
  const v = asId(raw);
  if (v === null) throw paramError(name);
  return v;
}

export function queryInt(url: URL, name: string): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^-?[0-9]{1,15}$/.test(raw)) throw paramError(name);
  return Number(raw);
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
