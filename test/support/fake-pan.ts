// The one in-process fake of the 123 Open API (every PanApi role), checked by the same contract suite as
// HttpPanClient against the emulator (test/support/pan-contract.ts), so it cannot drift from them.
// A tree of files and folders (ids above 2^53, as the real service hands out); paged listings (100 a
// page, trashed rows dropped); name clashes and name rules; trash and recover (abnormal ids when the old
// place is taken); the v2 upload flow: instant upload (reuse by MD5 + size), the server's sliceSize, slice
// MD5 verification, whole-file MD5 verification at complete, N "still verifying" polls (20103 →
// completed:false), duplicate 1/2; file/copy; download links; the account. Records every call, takes
// injectable failures per method (fail, failNext), a hook before each call (onCall) and gates per method
// (gates.hold: a call waits there before it acts; listAll reads the tree when the request is made and its
// gate holds the answer). mutations() is the tree changes made (mkdir, rename, move, trash, recover, copy) with
// positional arguments; at(path) finds a live node by path.
import { nameProblem } from '../../src/core/names.js';
import type {
  DownloadLink,
  ListPage,
  PanApi,
  RemoteEntry,
  UploadCompleteResult,
  UploadCreateResult,
  UserInfo,
} from '../../src/pan/api.js';
import { PanError } from '../../src/pan/errors.js';
import { md5hex as md5 } from './data.js';
import { Gates } from './gate.js';

export const FAKE_ROOT_ID = '0';
const PAGE = 100;

export interface FakeFile {
  id: string;
  parentId: string;
  name: string;
  isDir: boolean;
  md5: string;
  size: number;
  data: Buffer;
  trashed: boolean;
  /** review status; > 100 means rejected */
  status: number;
  createdAt: number;
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
export type FakePanMethod =
  | 'listPage'
  | 'listAll'
  | 'detail'
  | 'mkdir'
  | 'userInfo'
  | 'downloadInfo'
  | 'directLink'
  | 'uploadCreate'
  | 'uploadSlice'
  | 'uploadComplete'
  | 'uploadDomains'
  | 'uploadSingle'
  | 'rename'
  | 'move'
  | 'trash'
  | 'copy'
  | 'recover';

export function transient(msg = 'connection reset'): PanError {
  return new PanError({ kind: 'transport', message: msg, retryable: true });
}

export class FakePan implements PanApi {
  sliceSize = 1024;
  servers = ['http://up-a', 'http://up-b'];
  domains = ['https://domain-1'];
  /** false: create never answers reuse (the emulator's instantUpload 0) */
  instantUpload = true;
  /** answers completed:false this many times per session before completing */
  pendingPolls = 0;
  /** slice bodies in flight right now, and the maximum seen */
  inflight = 0;
  maxInflight = 0;
  /** an uploadSlice takes this many macrotasks (lets parallelism show) */
  sliceDelayTicks = 1;
  readonly calls: Array<{ method: FakePanMethod; args: Record<string, unknown> }> = [];
  readonly files = new Map<string, FakeFile>();
  private readonly sessions = new Map<string, Session>();
  private readonly faults: Array<{
    method: FakePanMethod;
    times: number;
    /** null: the call passes (a placeholder queued by failNext(method, undefined)) */
    error: (() => Error) | null;
    when?: (args: Record<string, unknown>) => boolean;
  }> = [];
  /** ids as the real service hands them out: above 2^53 */
  private nextId = 9_007_199_254_741_000n;
  /** the time stamped on new nodes */
  now = () => Date.UTC(2026, 0, 1);
  account: UserInfo = {
    uid: '1814435920',
    nickname: 'fake',
    spaceUsed: 0,
    spacePermanent: 2 * 1024 ** 4,
    spaceTemp: 0,
    spaceTempExpireAt: 0,
    vip: false,
    directTraffic: 0,
  };
  /** hook run before each call resolves (e.g. to rename a node mid-upload) */
  onCall?: (method: FakePanMethod, args: Record<string, unknown>) => void | Promise<void>;
  /** calls of a method wait here before they act (`gates.hold(method)`; its `reached()` once one does) */
  readonly gates = new Gates<FakePanMethod>();

  /** Make the next `times` calls of method (matching `when`) throw error(). */
  fail(
    method: FakePanMethod,
    times: number,
    error: () => Error = () => transient(),
    when?: (args: Record<string, unknown>) => boolean,
  ): void {
    this.faults.push({ method, times, error, when });
  }

  /** Queue one outcome for a later call of method, in order: it throws err, or passes when err is undefined. */
  failNext(method: FakePanMethod, err: unknown): void {
    this.faults.push({ method, times: 1, error: err === undefined ? null : () => err as Error });
  }

  /** The tree changes made so far (mkdir, rename, move, trash, recover), arguments in call order. */
  mutations(): Array<{ method: FakePanMethod; args: unknown[] }> {
    const tree: FakePanMethod[] = ['mkdir', 'rename', 'move', 'trash', 'recover', 'copy'];
    return this.calls
      .filter((c) => tree.includes(c.method))
      .map((c) => ({ method: c.method, args: Object.values(c.args) }));
  }

  /** The live node at a path like "/a/b" (from the root folder), if any. */
  at(path: string): FakeFile | undefined {
    let cur: FakeFile | undefined = this.files.get(FAKE_ROOT_ID) ?? this.rootNode();
    for (const part of path.split('/').filter(Boolean)) {
      cur = this.live(cur.id).find((n) => n.name === part);
      if (!cur) return undefined;
    }
    return cur;
  }

  private rootNode(): FakeFile {
    return {
      id: FAKE_ROOT_ID,
      parentId: '',
      name: '',
      isDir: true,
      md5: '',
      size: 0,
      data: Buffer.alloc(0),
      trashed: false,
      status: 0,
      createdAt: this.now(),
    };
  }

  count(method: FakePanMethod): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  private newId(): string {
    return String(this.nextId++);
  }

  /** Seeds a file; returns its id (`status` > 100: review-rejected; `id`: a chosen id). */
  addFile(parentId: string, name: string, data: Buffer, status = 0, id?: string): string {
    return this.add({ parentId, name, isDir: false, md5: md5(data), size: data.length, data }, status, id).id;
  }

  /** Seeds a folder; returns its id. */
  addDir(parentId: string, name: string): string {
    return this.add({ parentId, name, isDir: true, md5: '', size: 0, data: Buffer.alloc(0) }).id;
  }

  private add(f: Omit<FakeFile, 'id' | 'trashed' | 'status' | 'createdAt'>, status = 0, id?: string): FakeFile {
    const node = { ...f, id: id ?? this.newId(), trashed: false, status, createdAt: this.now() };
    this.files.set(node.id, node);
    return node;
  }

  /** the live (not trashed) children of a folder */
  live(parentId: string): FakeFile[] {
    return [...this.files.values()].filter((f) => f.parentId === parentId && !f.trashed);
  }

  private node(id: string, endpoint: string): FakeFile {
    const n = this.files.get(id);
    if (!n || n.trashed) throw notFound(endpoint);
    return n;
  }

  /**
   * A folder id: refused when it names a file or a trashed node; an id never seen passes (tests upload into bare
   * ids).
   */
  private folder(id: string, endpoint: string): void {
    const n = this.files.get(id);
    if (n && (n.trashed || !n.isDir)) throw notFound(endpoint);
  }

  private clash(parentId: string, name: string, self?: string): void {
    if (this.live(parentId).some((f) => f.name === name && f.id !== self))
      throw new PanError({ kind: 'name-clash', code: 1, message: '该目录下文件名重复无法创建' });
  }

  private validName(name: string): void {
    if (nameProblem(name)) throw new PanError({ kind: 'invalid-name', code: 1, message: '文件名包含特殊字符' });
  }

  private entry(n: FakeFile): RemoteEntry {
    return {
      id: n.id,
      name: n.name,
      isDir: n.isDir,
      size: n.isDir ? 0 : n.size,
      md5: n.isDir ? '' : n.md5,
      parentId: n.parentId,
      status: n.status,
      trashed: n.trashed,
      createdAt: n.createdAt,
      updatedAt: n.createdAt,
    };
  }

  private async enter(method: FakePanMethod, args: Record<string, unknown>): Promise<void> {
    this.calls.push({ method, args });
    await this.onCall?.(method, args);
    await this.gates.pass(method);
    this.fault(method, args);
  }

  private fault(method: FakePanMethod, args: Record<string, unknown>): void {
    const f = this.faults.find((x) => x.method === method && x.times > 0 && (!x.when || x.when(args)));
    if (f) {
      f.times--;
      if (f.error) throw f.error();
    }
  }

  private place(parentId: string, name: string, data: Buffer, duplicate?: 1 | 2): string {
    const clash = this.live(parentId).find((f) => f.name === name && !f.isDir);
    if (clash) {
      if (duplicate === 2) clash.trashed = true;
      else if (duplicate === 1) name = `${name}(1)`;
      else throw new PanError({ kind: 'name-clash', code: 1, message: '该目录下文件名重复无法创建' });
    }
    return this.addFile(parentId, name, data);
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
    this.validName(req.filename);
    if (!req.duplicate) this.clash(req.parentId, req.filename);
    const known = [...this.files.values()].find((f) => !f.isDir && f.md5 === req.md5 && f.size === req.size);
    if (known && this.instantUpload)
      return { reuse: true, fileId: this.place(req.parentId, req.filename, known.data, req.duplicate) };
    const id = `pre-${this.newId()}`;
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
    const n = this.node(id, 'file_rename');
    if (n.name === newName) return;
    this.validName(newName);
    this.clash(n.parentId, newName, id);
    n.name = newName;
  }

  async move(ids: string[], toParentId: string): Promise<void> {
    await this.enter('move', { ids, toParentId });
    this.folder(toParentId, 'file_move');
    for (const id of ids) {
      const n = this.node(id, 'file_move');
      if (n.parentId !== toParentId) this.clash(toParentId, n.name, id);
    }
    for (const id of ids) this.node(id, 'file_move').parentId = toParentId;
  }

  /** file/copy: same name in the target folder; a clash is refused (the emulator's strict default). */
  async copy(id: string, targetDirId: string): Promise<string> {
    await this.enter('copy', { id, targetDirId });
    const n = this.node(id, 'file_copy');
    if (n.isDir) throw new PanError({ kind: 'api', code: 1, message: '仅支持复制文件' });
    this.folder(targetDirId, 'file_copy');
    if (this.live(targetDirId).some((f) => f.name === n.name))
      throw new PanError({ kind: 'name-clash', code: 1, message: '当前目录有重名文件' });
    return this.addFile(targetDirId, n.name, n.data);
  }

  async trash(ids: string[]): Promise<void> {
    await this.enter('trash', { ids });
    for (const id of ids) {
      const f = this.files.get(id);
      if (f) f.trashed = true;
    }
  }

  /** Restores to the old place; an id whose old name is taken (or that is not in the trash) stays. */
  async recover(ids: string[]): Promise<string[]> {
    await this.enter('recover', { ids });
    const abnormal: string[] = [];
    for (const id of ids) {
      const f = this.files.get(id);
      if (!f?.trashed || this.live(f.parentId).some((k) => k.name === f.name)) abnormal.push(id);
      else f.trashed = false;
    }
    return abnormal;
  }

  async listPage(parentId: string, lastFileId?: string): Promise<ListPage> {
    await this.enter('listPage', { parentId, lastFileId });
    this.folder(parentId, 'file_list');
    // the id order of the real listing; trashed rows are dropped after paging, as the wire does
    const all = [...this.files.values()]
      .filter((f) => f.parentId === parentId)
      .sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
    const from = lastFileId && lastFileId !== '-1' ? all.findIndex((f) => BigInt(f.id) > BigInt(lastFileId)) : 0;
    const page = from < 0 ? [] : all.slice(from, from + PAGE);
    const last = from < 0 || from + PAGE >= all.length ? '-1' : page.at(-1)!.id;
    return { entries: page.filter((f) => !f.trashed).map((f) => this.entry(f)), lastFileId: last };
  }

  /**
   * Every page, as HttpPanClient pages. The pages are read when the request is made; gates.hold('listAll')
   * holds the answer and failNext('listAll') loses it, so a test can land a change while a listing of the
   * older tree is in flight.
   */
  async listAll(
    parentId: string,
    signal?: AbortSignal,
    opts?: { background?: boolean; ahead?: unknown },
  ): Promise<RemoteEntry[]> {
    signal?.throwIfAborted(); // as HttpPanClient's transport does
    const args = opts?.background
      ? { parentId, background: true }
      : opts?.ahead
        ? { parentId, ahead: true }
        : { parentId };
    this.calls.push({ method: 'listAll', args });
    const out: RemoteEntry[] = [];
    let failed: unknown = null;
    try {
      for (let cursor: string | undefined; ; ) {
        const page = await this.listPage(parentId, cursor);
        out.push(...page.entries);
        if (page.lastFileId === '-1' || page.lastFileId === cursor) break;
        cursor = page.lastFileId;
      }
    } catch (e) {
      failed = e;
    }
    await this.onCall?.('listAll', { parentId });
    await this.gates.pass('listAll');
    this.fault('listAll', { parentId });
    if (failed !== null) throw failed;
    return out;
  }

  async detail(id: string): Promise<RemoteEntry> {
    await this.enter('detail', { id });
    const n = this.files.get(id);
    if (!n) throw notFound('file_detail');
    return this.entry(n);
  }

  async mkdir(parentId: string, name: string): Promise<string> {
    await this.enter('mkdir', { parentId, name });
    this.folder(parentId, 'mkdir');
    this.validName(name);
    this.clash(parentId, name);
    return this.addDir(parentId, name);
  }

  async userInfo(): Promise<UserInfo> {
    await this.enter('userInfo', {});
    return { ...this.account };
  }

  async downloadInfo(id: string): Promise<DownloadLink> {
    await this.enter('downloadInfo', { id });
    const n = this.node(id, 'download_info');
    if (n.isDir) throw notFound('download_info');
    return { url: `https://cdn.fake/${n.id}?md5=${n.md5}`, expiresAt: Date.now() + 3600_000 };
  }

  async directLink(id: string): Promise<DownloadLink> {
    await this.enter('directLink', { id });
    const n = this.node(id, 'direct_link');
    return { url: `https://vip.fake/${encodeURIComponent(n.name)}`, expiresAt: Date.now() + 3600_000 };
  }
}

function notFound(endpoint: string): PanError {
  return new PanError({ kind: 'not-found', code: 5066, endpoint, message: '文件不存在' });
}
