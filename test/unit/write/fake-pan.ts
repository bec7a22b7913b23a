// A fake PanApi for the write path: records calls; emulates instant upload (reuse by MD5 + size), the
// server's sliceSize, slice MD5 verification, whole-file MD5 verification at complete, N "still verifying"
// polls (20103 → completed:false), duplicate 1/2, and injectable failures per method.
import { createHash } from 'node:crypto';
import type { PanApi, UploadCompleteResult, UploadCreateResult } from '../../../src/pan/api.js';
import { PanError } from '../../../src/pan/errors.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export interface FakeFile {
  id: string;
  parentId: string;
  name: string;
  md5: string;
  size: number;
  data: Buffer;
  trashed: boolean;
}
interface Session {
  parentId: string;
  name: string;
  md5: string;
  size: number;
  duplicate?: 1 | 2;
  slices: Map<number, Buffer>;
  polls: number;
}
type Method =
  | 'uploadCreate'
  | 'uploadSlice'
  | 'uploadComplete'
  | 'uploadDomains'
  | 'uploadSingle'
  | 'rename'
  | 'move'
  | 'trash'
  | 'recover';

export function transient(msg = 'connection reset'): PanError {
  return new PanError({ kind: 'transport', message: msg, retryable: true });
}

export class FakePan implements PanApi {
  sliceSize = 1024;
  servers = ['http://up-a', 'http://up-b'];
  domains = ['https://domain-1'];
  /** answers completed:false this many times per session before completing */
  pendingPolls = 0;
  /** slice bodies in flight right now, and the maximum seen */
  inflight = 0;
  maxInflight = 0;
  /** an uploadSlice takes this many macrotasks (lets parallelism show) */
  sliceDelayTicks = 1;
  readonly calls: Array<{ method: Method; args: Record<string, unknown> }> = [];
  readonly files = new Map<string, FakeFile>();
  private readonly sessions = new Map<string, Session>();
  private readonly faults: Array<{
    method: Method;
    times: number;
    error: () => Error;
    when?: (args: Record<string, unknown>) => boolean;
  }> = [];
  private nextId = 1000;
  /** hook run before each call resolves (e.g. to rename a node mid-upload) */
  onCall?: (method: Method, args: Record<string, unknown>) => void | Promise<void>;

  /** Make the next `times` calls of method (matching `when`) throw error(). */
  fail(
    method: Method,
    times: number,
    error: () => Error = () => transient(),
    when?: (args: Record<string, unknown>) => boolean,
  ): void {
    this.faults.push({ method, times, error, when });
  }

  count(method: Method): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  addFile(parentId: string, name: string, data: Buffer): FakeFile {
    const f = { id: String(this.nextId++), parentId, name, md5: md5(data), size: data.length, data, trashed: false };
    this.files.set(f.id, f);
    return f;
  }

  live(parentId: string): FakeFile[] {
    return [...this.files.values()].filter((f) => f.parentId === parentId && !f.trashed);
  }

  private async enter(method: Method, args: Record<string, unknown>): Promise<void> {
    this.calls.push({ method, args });
    await this.onCall?.(method, args);
    const f = this.faults.find((x) => x.method === method && x.times > 0 && (!x.when || x.when(args)));
    if (f) {
      f.times--;
      throw f.error();
    }
  }

  private place(parentId: string, name: string, data: Buffer, duplicate?: 1 | 2): string {
    const clash = this.live(parentId).find((f) => f.name === name);
    if (clash) {
      if (duplicate === 2) clash.trashed = true;
      else if (duplicate === 1) name = `${name}(1)`;
      else throw new PanError({ kind: 'name-clash', code: 1, message: '该目录下文件名重复无法创建' });
    }
    return this.addFile(parentId, name, data).id;
  }

  async uploadCreate(req: {
    parentId: string;
    filename: string;
    md5: string;
    size: number;
    duplicate?: 1 | 2;
  }): Promise<UploadCreateResult> {
    await this.enter('uploadCreate', { ...req });
    if (req.size > 10 * 1024 ** 3) throw new PanError({ kind: 'too-large', message: 'too large' });
    const known = [...this.files.values()].find((f) => f.md5 === req.md5 && f.size === req.size);
    if (known) return { reuse: true, fileId: this.place(req.parentId, req.filename, known.data, req.duplicate) };
    const id = `pre-${this.nextId++}`;
    this.sessions.set(id, {
      parentId: req.parentId,
      name: req.filename,
      md5: req.md5,
      size: req.size,
      duplicate: req.duplicate,
      slices: new Map(),
      polls: 0,
    });
    return { reuse: false, preuploadId: id, sliceSize: this.sliceSize, servers: [...this.servers] };
  }

  async uploadSlice(req: {
    server: string;
    preuploadId: string;
    sliceNo: number;
    sliceMd5: string;
    data: Buffer;
    signal?: AbortSignal;
  }): Promise<void> {
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      await this.enter('uploadSlice', {
        server: req.server,
        preuploadId: req.preuploadId,
        sliceNo: req.sliceNo,
        sliceMd5: req.sliceMd5,
        length: req.data.length,
      });
      for (let i = 0; i < this.sliceDelayTicks; i++) await new Promise((r) => setImmediate(r));
      const s = this.sessions.get(req.preuploadId);
      if (!s) throw new PanError({ kind: 'api', code: 1, message: 'no such preuploadID' });
      if (!this.servers.includes(req.server) && !this.domains.includes(req.server))
        throw new Error(`unknown server ${req.server}`);
      if (md5(req.data) !== req.sliceMd5) throw new PanError({ kind: 'api', code: 1, message: 'slice md5 mismatch' });
      const count = Math.max(1, Math.ceil(s.size / this.sliceSize));
      const expected = req.sliceNo < count ? this.sliceSize : s.size - (count - 1) * this.sliceSize;
      if (req.sliceNo < 1 || req.sliceNo > count || req.data.length !== expected) {
        throw new PanError({
          kind: 'api',
          code: 1,
          message: `bad slice ${req.sliceNo} (${req.data.length} bytes, expected ${expected})`,
        });
      }
      s.slices.set(req.sliceNo, Buffer.from(req.data));
    } finally {
      this.inflight--;
    }
  }

  async uploadComplete(preuploadId: string): Promise<UploadCompleteResult> {
    await this.enter('uploadComplete', { preuploadId });
    const s = this.sessions.get(preuploadId);
    if (!s) throw new PanError({ kind: 'api', code: 1, message: 'no such preuploadID' });
    if (s.polls++ < this.pendingPolls) return { completed: false, fileId: '0' };
    const nos = [...s.slices.keys()].sort((a, b) => a - b);
    const data = Buffer.concat(nos.map((n) => s.slices.get(n)!));
    if (data.length !== s.size || md5(data) !== s.md5) {
      throw new PanError({ kind: 'upload-failed', message: '文件上传失败' });
    }
    this.sessions.delete(preuploadId);
    return { completed: true, fileId: this.place(s.parentId, s.name, data, s.duplicate) };
  }

  async uploadDomains(): Promise<string[]> {
    await this.enter('uploadDomains', {});
    return [...this.domains];
  }

  async uploadSingle(req: {
    server: string;
    parentId: string;
    filename: string;
    md5: string;
    size: number;
    data: Buffer;
    duplicate?: 1 | 2;
  }): Promise<UploadCompleteResult> {
    await this.enter('uploadSingle', {
      server: req.server,
      parentId: req.parentId,
      filename: req.filename,
      md5: req.md5,
      size: req.size,
    });
    if (md5(req.data) !== req.md5 || req.data.length !== req.size)
      throw new PanError({ kind: 'upload-failed', message: '文件上传失败' });
    return { completed: true, fileId: this.place(req.parentId, req.filename, Buffer.from(req.data), req.duplicate) };
  }

  async rename(id: string, newName: string): Promise<void> {
    await this.enter('rename', { id, newName });
    this.files.get(id)!.name = newName;
  }

  async move(ids: string[], toParentId: string): Promise<void> {
    await this.enter('move', { ids, toParentId });
    for (const id of ids) this.files.get(id)!.parentId = toParentId;
  }

  async trash(ids: string[]): Promise<void> {
    await this.enter('trash', { ids });
    for (const id of ids) {
      const f = this.files.get(id);
      if (f) f.trashed = true;
    }
  }

  async recover(ids: string[]): Promise<string[]> {
    await this.enter('recover', { ids });
    for (const id of ids) {
      const f = this.files.get(id);
      if (f) f.trashed = false;
    }
    return [];
  }

  listPage(): never {
    throw new Error('not in the fake');
  }
  listAll(): never {
    throw new Error('not in the fake');
  }
  detail(): never {
    throw new Error('not in the fake');
  }
  mkdir(): never {
    throw new Error('not in the fake');
  }
  userInfo(): never {
    throw new Error('not in the fake');
  }
  downloadInfo(): never {
    throw new Error('not in the fake');
  }
  directLink(): never {
    throw new Error('not in the fake');
  }
}

/** Deterministic test data ("ramp" bytes with a seed). */
export { md5hex, ramp } from '../../support/data.js';
