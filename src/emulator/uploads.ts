// Upload v2 (123open-api.md §4): create (instant upload when a blob with the MD5+size exists), slice
// (multipart, verified per slice), upload_complete (20103 "still verifying" at least completePolls
// times, {completed:false} while the merge runs, then {completed:true, fileID}) and single/create.
// Doubtful behaviours (issue 15) are played by config: completeMode (how complete answers and ends),
// zeroByteRefuse (which zero-byte paths are refused), uploadBases (one or several upload hosts; slice
// and single requests are counted per Host header). Sessions are persisted in SQLite and slices under
// <dataDir>/uploads/<preuploadID>/, so an upload survives a restart. Invariants: a file row appears only
// after its blob is stored and verified against the declared etag; the name clash is checked at create
// and again at completion.

import crypto from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { ApiError, CODE, MSG, paramError } from './errors.js';
import { Body } from './http.js';
import type { Duplicate } from './model.js';
import { boundaryOf, MultipartError, MultipartParser, type PartSink } from './multipart.js';
import { checkName } from './names.js';
import type { EmuState } from './state.js';

export const MAX_CREATE_SIZE = 10 * 1024 ** 3; // developers: 10 GB via create/slices (§4.1)
export const MAX_SINGLE_SIZE = 1024 ** 3; // 1 GB via single-step upload (§4.1)
const MAX_FIELD = 64 * 1024;

interface Session {
  id: string;
  parentId: string;
  name: string;
  etag: string;
  size: number;
  duplicate: Duplicate;
  sliceSize: number;
  state: 'open' | 'done' | 'failed';
  fileId?: string;
}

/**
 * A merge asked for by upload_complete. It runs and settles on its own, like the real server's (the file
 * appears whether or not the client polls again); `polls` counts the 20103 answers still owed.
 */
interface Merge {
  polls: number;
  outcome?: { value: unknown } | { error: unknown };
}

export interface Target {
  parentId: bigint;
  name: string;
  etag: string;
  size: number;
  duplicate: Duplicate;
}

export class Uploads {
  private readonly merges = new Map<string, Merge>();
  /** merges in progress: close() waits for them, so none settles into a closed store */
  private readonly running = new Set<Promise<void>>();
  /** `<preuploadID>:<sliceNo>` being written straight into an assembly file right now */
  private readonly receiving = new Set<string>();
  readonly dir: string;

  constructor(
    private readonly s: () => EmuState,
    dataDir: string,
  ) {
    this.dir = path.join(dataDir, 'uploads');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  private load(id: string): Session | undefined {
    if (!/^[0-9a-f]{32,64}$/.test(id)) return undefined;
    const r = this.s().store.db.prepare('SELECT json FROM uploads WHERE preupload_id = ?').get(id) as
      | { json: string }
      | undefined;
    return r ? (JSON.parse(r.json) as Session) : undefined;
  }

  private save(x: Session): void {
    this.s()
      .store.db.prepare(
        'INSERT INTO uploads(preupload_id, json) VALUES (?, ?) ' +
          'ON CONFLICT(preupload_id) DO UPDATE SET json = excluded.json',
      )
      .run(x.id, JSON.stringify(x));
  }

  /** Common validation of create/single: parent, name (containDir), etag, size, duplicate. */
  target(b: Body, maxSize: number): Target {
    const s = this.s();
    let parentId = b.id('parentFileID');
    const filename = b.str('filename');
    const etag = b.str('etag');
    if (!/^[0-9a-f]{32}$/.test(etag)) throw paramError('etag'); // lower-case hex MD5 only (choice)
    const size = b.int('size');
    if (size > maxSize) throw new ApiError(CODE.generic, '文件大小超过限制'); // message: choice
    // storage quota: the upload must fit in the account (message: choice; real wording unknown)
    if (s.model.spaceUsed() + size > s.opts.spacePermanent)
      throw new ApiError(CODE.generic, '空间不足，请清理空间或升级会员');
    const duplicate = b.optInt('duplicate', 0);
    if (duplicate > 2) throw paramError('duplicate');
    let name = filename;
    if (b.bool('containDir', false)) {
      const segs = filename.split('/').filter((x) => x !== '');
      if (segs.length === 0) throw new ApiError(CODE.generic, MSG.nameInvalid);
      name = segs.pop()!;
      for (const seg of segs) checkName(seg, s.config.nameMaxChars);
      checkName(name, s.config.nameMaxChars);
      s.model.requireLiveFolder(parentId);
      parentId = s.model.ensureFolders(parentId, segs);
    }
    checkName(name, s.config.nameMaxChars);
    s.model.placeFile(parentId, name, duplicate as Duplicate);
    return { parentId, name, etag, size, duplicate: duplicate as Duplicate };
  }

  /** POST /upload/v2/file/create */
  create(b: Body): unknown {
    const s = this.s();
    const t = this.target(b, MAX_CREATE_SIZE);
    const reuseRefused = t.size === 0 && this.refuses('reuse');
    if (s.config.instantUpload !== 0 && !reuseRefused && s.store.hasBlob(t.etag, t.size)) {
      s.counters.c.instantUploadHits++;
      return { fileID: s.model.createFile(t.parentId, t.name, t.etag, t.size, t.duplicate), reuse: true };
    }
    const id = crypto.randomBytes(24).toString('hex');
    this.save({
      id,
      parentId: t.parentId.toString(),
      name: t.name,
      etag: t.etag,
      size: t.size,
      duplicate: t.duplicate,
      sliceSize: s.opts.sliceSize,
      state: 'open',
    });
    return { fileID: 0, reuse: false, preuploadID: id, sliceSize: s.opts.sliceSize, servers: [...s.uploadBases] };
  }

  /** zeroByteRefuse names this zero-byte path ('reuse', 'slice', 'single'). */
  private refuses(path: string): boolean {
    return this.s().config.zeroByteRefuse.split(',').includes(path);
  }

  private countHost(req: IncomingMessage): void {
    const h = this.s().counters.c.uploadHosts;
    const host = req.headers.host ?? '';
    h[host] = (h[host] ?? 0) + 1;
  }

  private sliceCount(x: Session): number {
    return Math.ceil(x.size / x.sliceSize);
  }
  /** highest sliceNo accepted: a zero-byte file may send one empty slice (AList and go-123pan do) */
  private maxSliceNo(x: Session): number {
    return Math.max(1, this.sliceCount(x));
  }
  /** Slices are written at their offsets into one assembly file per session (no copy at merge time);
   * `<n>.ok` marks slice n as received and verified. */
  private dataPath(x: Session): string {
    return path.join(this.dir, x.id, 'data');
  }
  private markerPath(x: Session, n: number): string {
    return path.join(this.dir, x.id, `${n}.ok`);
  }

  /** Where a slice's bytes go while they arrive: straight into the assembly file when the fields before
   * the file part name an open session and a slice nobody else is sending right now, else a temp file. */
  private sliceTarget(fields: Record<string, string>): { path: string; position: number; key: string } | null {
    const x = this.load(fields.preuploadID ?? '');
    const no = Number(fields.sliceNo);
    if (x?.state !== 'open' || !/^[1-9][0-9]*$/.test(fields.sliceNo ?? '') || no > this.maxSliceNo(x)) return null;
    const key = `${x.id}:${no}`;
    // a slice already accepted, or one arriving twice at once, must not touch the accepted bytes
    if (this.receiving.has(key) || fs.existsSync(this.markerPath(x, no))) return null;
    fs.mkdirSync(path.join(this.dir, x.id), { recursive: true });
    return { path: this.dataPath(x), position: (no - 1) * x.sliceSize, key };
  }

  /** POST /upload/v2/file/slice (multipart: preuploadID, sliceNo, sliceMD5, slice). */
  async slice(req: IncomingMessage): Promise<null> {
    const s = this.s();
    this.countHost(req);
    let direct: { path: string; position: number; key: string } | null = null;
    const form = await receiveForm(
      req,
      'slice',
      s.store.tmpFile('slice'),
      s.opts.sliceSize,
      (n) => {
        s.counters.c.sliceBytesReceived += n;
      },
      (fields) => {
        direct = this.sliceTarget(fields);
        if (direct) this.receiving.add(direct.key);
        return direct;
      },
    ).finally(() => {
      if (direct) this.receiving.delete(direct.key);
    });
    try {
      const x = this.load(form.fields.preuploadID ?? '');
      if (x?.state !== 'open') throw new ApiError(CODE.generic, 'preuploadID不存在或上传已完成'); // choice
      const no = Number(form.fields.sliceNo);
      const n = this.maxSliceNo(x);
      if (!/^[1-9][0-9]*$/.test(form.fields.sliceNo ?? '') || no > n) throw paramError('sliceNo');
      if (!form.file) throw paramError('slice');
      if (x.size === 0 && this.refuses('slice')) throw new ApiError(CODE.generic, MSG.emptySlice);
      const want = no < n ? x.sliceSize : x.size - (n - 1) * x.sliceSize;
      if (form.file.bytes !== want) throw new ApiError(CODE.generic, `分片大小错误: 应为${want}字节`); // choice
      if ((form.fields.sliceMD5 ?? '').toLowerCase() !== form.file.md5)
        throw new ApiError(CODE.generic, '分片MD5校验失败'); // choice
      fs.mkdirSync(path.join(this.dir, x.id), { recursive: true });
      if (!fs.existsSync(this.markerPath(x, no))) {
        if (!form.file.direct) copyInto(form.file.path, this.dataPath(x), (no - 1) * x.sliceSize);
        fs.writeFileSync(this.markerPath(x, no), '');
      }
      return null;
    } finally {
      if (form.file && !form.file.direct) fs.rmSync(form.file.path, { force: true });
    }
  }

  /** Resolves once no merge is running (the server's close() waits for this before closing the store). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  /** POST /upload/v2/file/upload_complete */
  complete(b: Body): unknown {
    const s = this.s();
    const mode = s.config.completeMode;
    const x = this.load(b.str('preuploadID'));
    if (!x) throw new ApiError(CODE.generic, 'preuploadID不存在或上传已完成');
    let m = this.merges.get(x.id);
    if (!m && x.state === 'done') return this.landed(x.fileId!);
    if (!m && x.state === 'failed') throw new ApiError(CODE.generic, MSG.uploadFailed);
    if (!m) {
      for (let i = 1; i <= this.sliceCount(x); i++) {
        if (!fs.existsSync(this.markerPath(x, i))) throw new ApiError(CODE.generic, `分片${i}未上传`); // choice
      }
      if (x.size === 0 && this.refuses('slice')) {
        x.state = 'failed';
        this.save(x);
        throw new ApiError(CODE.generic, MSG.uploadFailed);
      }
      m = { polls: 0 };
      this.merges.set(x.id, m);
      const running = this.merge(x, m);
      this.running.add(running);
      void running.finally(() => this.running.delete(running));
    }
    if (mode === 'error-lands') throw new ApiError(CODE.generic, MSG.serverError); // while merging too
    if (m.polls < s.config.completePolls) {
      m.polls++;
      if (mode === 'not-completed') return { completed: false, fileID: 0 };
      if (mode === 'message') throw new ApiError(CODE.generic, MSG.processing);
      throw new ApiError(CODE.verifying, MSG.verifying);
    }
    if (!m.outcome) return { completed: false, fileID: 0 };
    this.merges.delete(x.id);
    if ('error' in m.outcome) throw m.outcome.error;
    return this.landed(String((m.outcome.value as { fileID: bigint }).fileID));
  }

  /** The answer for a merged upload: {completed, fileID}, or the error completeMode plays instead. */
  private landed(fileId: string): unknown {
    const mode = this.s().config.completeMode;
    if (mode === 'error-lands') throw new ApiError(CODE.generic, MSG.serverError);
    if (mode === 'fail-lands') throw new ApiError(CODE.generic, MSG.uploadFailed);
    return { completed: true, fileID: BigInt(fileId) };
  }

  /** The merge is over: the file is created now (duplicate rules applied now), polled or not. */
  private settle(x: Session, m: Merge, r: { ok: boolean; tmp?: string }): void {
    try {
      m.outcome = { value: this.finish(x, r) };
    } catch (e) {
      m.outcome = { error: e };
    }
  }

  private finish(x: Session, r: { ok: boolean; tmp?: string }): unknown {
    const s = this.s();
    if (!r.ok || s.config.completeMode === 'fail') {
      if (r.tmp) fs.rmSync(r.tmp, { force: true });
      x.state = 'failed';
      this.save(x);
      this.dropSlices(x);
      throw new ApiError(CODE.generic, MSG.uploadFailed);
    }
    s.store.putBlob(r.tmp!, x.etag, x.size, 'move');
    const fileId = s.model.createFile(BigInt(x.parentId), x.name, x.etag, x.size, x.duplicate); // clash re-checked here
    x.state = 'done';
    x.fileId = fileId.toString();
    this.save(x);
    this.dropSlices(x);
    return { completed: true, fileID: fileId };
  }

  private dropSlices(x: Session): void {
    fs.rmSync(path.join(this.dir, x.id), { recursive: true, force: true });
  }

  /** Hash the assembled file (read only: the slices are already in place) and compare with the etag; the
   * file itself becomes the blob. */
  private async merge(x: Session, m: Merge): Promise<void> {
    const data = this.dataPath(x);
    try {
      // a rejected over-long last slice may have written past the declared size
      if (fs.statSync(data).size > x.size) fs.truncateSync(data, x.size);
      const hash = crypto.createHash('md5');
      let n = 0;
      for await (const c of fs.createReadStream(data, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        hash.update(c);
        n += c.length;
      }
      const ok = n === x.size && hash.digest('hex') === x.etag;
      if (!ok) {
        this.settle(x, m, { ok: false });
        return;
      }
      const tmp = this.s().store.tmpFile('merge');
      fs.renameSync(data, tmp); // out of the session dir, which finish() removes
      this.settle(x, m, { ok, tmp });
    } catch (e) {
      if (x.size === 0 && (e as NodeJS.ErrnoException).code === 'ENOENT') {
        // an empty file has no slice and so no assembly file
        const tmp = this.s().store.tmpFile('merge');
        fs.writeFileSync(tmp, '');
        this.settle(x, m, { ok: crypto.createHash('md5').digest('hex') === x.etag, tmp });
        return;
      }
      this.s().logger.error({ op: 'upload_merge', err: String(e) }, 'merge failed');
      this.settle(x, m, { ok: false });
    }
  }

  /** POST /upload/v2/file/single/create (multipart: parentFileID, filename, etag, size, duplicate?, file). */
  async single(req: IncomingMessage): Promise<unknown> {
    const s = this.s();
    this.countHost(req);
    const form = await receiveForm(req, 'file', s.store.tmpFile('single'), MAX_SINGLE_SIZE, (n) => {
      s.counters.c.singleUploadBytes += n;
    });
    try {
      const t = this.target(new Body(form.fields), MAX_SINGLE_SIZE);
      if (!form.file) throw paramError('file');
      if (t.size === 0 && this.refuses('single')) throw new ApiError(CODE.generic, MSG.emptyFile);
      if (form.file.bytes !== t.size || form.file.md5 !== t.etag) throw new ApiError(CODE.generic, MSG.uploadFailed);
      if (s.store.hasBlob(t.etag, t.size)) s.counters.c.instantUploadHits++;
      else s.store.putBlob(form.file.path, t.etag, t.size, 'move');
      return { fileID: s.model.createFile(t.parentId, t.name, t.etag, t.size, t.duplicate), completed: true };
    } finally {
      if (form.file) fs.rmSync(form.file.path, { force: true });
    }
  }
}

export interface Form {
  fields: Record<string, string>;
  file?: { path: string; bytes: number; md5: string; direct: boolean };
}

/** Copies a whole file into `dst` (created if missing) at `position`. */
function copyInto(src: string, dst: string, position: number): void {
  const fdOut = fs.openSync(dst, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  const fdIn = fs.openSync(src, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let off = 0; ; ) {
      const n = fs.readSync(fdIn, buf, 0, buf.length, off);
      if (n === 0) break;
      fs.writeSync(fdOut, buf, 0, n, position + off);
      off += n;
    }
  } finally {
    fs.closeSync(fdIn);
    fs.closeSync(fdOut);
  }
}

/**
 * Stream a multipart body: text fields into memory (≤64 KiB each), the file field to `tmp` while hashing,
 * or, when `target` (called with the fields seen so far) names one, into that file at that position.
 */
export async function receiveForm(
  req: IncomingMessage,
  fileField: string,
  tmp: string,
  maxFile: number,
  onFileBytes: (n: number) => void,
  target?: (fields: Record<string, string>) => { path: string; position: number } | null,
): Promise<Form> {
  let boundary: string;
  try {
    boundary = boundaryOf(req.headers['content-type']);
  } catch {
    throw paramError('content-type');
  }
  const form: Form = { fields: {} };
  let fd: number | undefined;
  const parser = new MultipartParser(boundary, (info): PartSink => {
    if (info.name === fileField && info.filename !== undefined) {
      if (fd !== undefined) throw new MultipartError('duplicate file part');
      const t = target?.(form.fields) ?? null;
      fd = t ? fs.openSync(t.path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600) : fs.openSync(tmp, 'w');
      const base = t ? t.position : 0;
      const hash = crypto.createHash('md5');
      const f = { path: t ? t.path : tmp, bytes: 0, md5: '', direct: t !== null };
      form.file = f;
      return {
        write: (d) => {
          const at = f.bytes;
          f.bytes += d.length;
          onFileBytes(d.length);
          if (f.bytes <= maxFile) {
            hash.update(d);
            fs.writeSync(fd!, d, 0, d.length, base + at);
          }
        },
        end: () => {
          f.md5 = hash.digest('hex');
        },
      };
    }
    const parts: Buffer[] = [];
    let n = 0;
    return {
      write: (d) => {
        n += d.length;
        if (n > MAX_FIELD) throw new MultipartError('field too large');
        parts.push(d);
      },
      end: () => {
        form.fields[info.name] = Buffer.concat(parts).toString('utf8');
      },
    };
  });
  try {
    for await (const c of req as AsyncIterable<Buffer>) parser.push(c);
    parser.end();
  } catch (e) {
    if (form.file && !form.file.direct) fs.rmSync(tmp, { force: true });
    if (e instanceof MultipartError) throw paramError(`multipart: ${e.message}`);
    throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return form;
}
