// Test helpers for the emulator suites: a tiny raw-HTTP client that speaks the 123 wire format (its own
// reading, no src/pan code), MD5 helpers and deterministic "ramp" data. Shared by unit and integration
// emulator tests.

import { md5hex as md5 } from '../../support/data.js';

export { md5hex as md5, ramp } from '../../support/data.js';

export interface Envelope<T = any> {
  code: number;
  message: string;
  data: T;
  'x-traceID': string;
}

export class WireClient {
  token = '';
  constructor(
    readonly base: string,
    readonly clientID = 'pan123fs-demo',
    readonly clientSecret = 'pan123fs-demo-secret',
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { platform: 'open_platform', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async login(): Promise<string> {
    const r = await this.post('/api/v1/access_token', { clientID: this.clientID, clientSecret: this.clientSecret });
    if (r.code !== 0) throw new Error(`login: ${r.code} ${r.message}`);
    this.token = r.data.accessToken;
    return this.token;
  }

  async raw(path: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
    const res = await fetch(this.base + path, init);
    return { status: res.status, text: await res.text() };
  }

  async get<T = any>(path: string, headers?: Record<string, string>): Promise<Envelope<T>> {
    const r = await this.raw(path, { headers: headers ?? this.headers() });
    return JSON.parse(r.text) as Envelope<T>;
  }

  /** body: an object (JSON.stringify'd) or a pre-serialised string (for raw int64 numbers). */
  async send<T = any>(method: string, path: string, body: unknown): Promise<Envelope<T>> {
    const r = await this.raw(path, {
      method,
      headers: this.headers({ 'content-type': 'application/json' }),
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return JSON.parse(r.text) as Envelope<T>;
  }

  post<T = any>(path: string, body: unknown): Promise<Envelope<T>> {
    return this.send<T>('POST', path, body);
  }

  async mkdir(parentID: number | string, name: string): Promise<number> {
    const r = await this.post('/upload/v1/file/mkdir', { parentID, name });
    if (r.code !== 0) throw new Error(`mkdir: ${r.code} ${r.message}`);
    return r.data.dirID;
  }

  async slice(preuploadID: string, sliceNo: number, data: Buffer, sliceMD5 = md5(data)): Promise<Envelope> {
    const fd = new FormData();
    fd.set('preuploadID', preuploadID);
    fd.set('sliceNo', String(sliceNo));
    fd.set('sliceMD5', sliceMD5);
    fd.set('slice', new Blob([data]), `x.part${sliceNo}`);
    const res = await fetch(`${this.base}/upload/v2/file/slice`, { method: 'POST', headers: this.headers(), body: fd });
    return JSON.parse(await res.text()) as Envelope;
  }

  /** create → slices → complete (polling through 20103 / completed:false). Returns the new id. */
  async upload(
    parentFileID: number | string,
    filename: string,
    data: Buffer,
    opts: { etag?: string; duplicate?: number } = {},
  ): Promise<{ fileID: number; reuse: boolean; polls: number[] }> {
    const c = await this.post('/upload/v2/file/create', {
      parentFileID,
      filename,
      etag: opts.etag ?? md5(data),
      size: data.length,
      duplicate: opts.duplicate,
    });
    if (c.code !== 0) throw new Error(`create: ${c.code} ${c.message}`);
    if (c.data.reuse) return { fileID: c.data.fileID, reuse: true, polls: [] };
    const n = Math.ceil(data.length / c.data.sliceSize);
    for (let i = 0; i < n; i++) {
      const r = await this.slice(
        c.data.preuploadID,
        i + 1,
        data.subarray(i * c.data.sliceSize, (i + 1) * c.data.sliceSize),
      );
      if (r.code !== 0) throw new Error(`slice: ${r.code} ${r.message}`);
    }
    const polls: number[] = [];
    for (let k = 0; k < 200; k++) {
      const r = await this.post('/upload/v2/file/upload_complete', { preuploadID: c.data.preuploadID });
      polls.push(r.code === 0 ? (r.data.completed ? 0 : -1) : r.code);
      if (r.code === 0 && r.data.completed) return { fileID: r.data.fileID, reuse: false, polls };
      if (r.code !== 0 && r.code !== 20103)
        throw Object.assign(new Error(`complete: ${r.code} ${r.message}`), { code: r.code, message2: r.message });
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error('complete: never completed');
  }

  async list(parentFileId: number | string, limit = 100, lastFileId?: number | string): Promise<Envelope> {
    return this.get(
      `/api/v2/file/list?parentFileId=${parentFileId}&limit=${limit}` +
        `${lastFileId !== undefined ? `&lastFileId=${lastFileId}` : ''}`,
    );
  }
}
