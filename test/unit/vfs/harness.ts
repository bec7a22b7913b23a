// Small fakes for driving PanVfs directly: the one in-memory 123 API (test/support/fake-pan.ts: call
// recording, injectable failures, gates to hold a call; checked by the shared contract suite), a fake
// account, a ReadPort over the fake tree's bytes, the REAL StagingFile in a tmp dir, and an UploadPort that
// journals into the real upload_journal table (so unlink's cascade is observable) and records
// enqueue/hold/waitFor. Real NodeStore on a tmp SQLite file.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock, T0 } from '../../support/clock.js';
import { md5hex, ramp } from '../../support/data.js';
import { FAKE_ROOT_ID, FakePan } from '../../support/fake-pan.js';
import { Deferred, Gate } from '../../support/gate.js';
import { FsError, type FsErrorKind } from '../../../src/core/errors.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { openMetaDb, type MetaDb } from '../../../src/meta/db.js';
import { NodeStore } from '../../../src/meta/node-store.js';
import { UploadJournal } from '../../../src/meta/upload-journal.js';
import type { UserInfo } from '../../../src/pan/api.js';
import { PanError, type PanErrorKind } from '../../../src/pan/errors.js';
import { PanVfs, type VfsOptions } from '../../../src/vfs/pan-vfs.js';
import { Writeback } from '../../../src/vfs/writeback.js';
import { PanServerCopier } from '../../../src/write/server-copy.js';
import type { Vfs } from '../../../src/vfs/types.js';
import type { FileRef, ReadHandleLike, ReadPort, StagingPort, UploadPort } from '../../../src/vfs/ports.js';
import { StagingFile, stagingDir } from '../../../src/write/staging.js';

export { T0 };
export const ROOT_ID = FAKE_ROOT_ID;
export { FakePan };

export const md5 = md5hex;
export { Deferred, ramp };

export function panError(kind: PanErrorKind, message: string = kind): PanError {
  return new PanError({ kind, message, code: kind === 'not-found' ? 5066 : 1 });
}

export class FakeAccount {
  calls = 0;
  failWith: unknown = null;
  info: UserInfo = {
    uid: '42',
    nickname: 'tester',
    spaceUsed: 300,
    spacePermanent: 1000,
    spaceTemp: 500,
    spaceTempExpireAt: 0,
    vip: false,
    directTraffic: 0,
  };
  async userInfo(): Promise<UserInfo> {
    this.calls++;
    if (this.failWith) throw this.failWith;
    return { ...this.info };
  }
}

/** ReadPort over the fake tree's bytes (looked up by id at open, like a real download). */
export class FakeReader implements ReadPort {
  readonly opened: FileRef[] = [];
  readonly dropped: string[] = [];
  reads = 0;
  closed = 0;
  failWith: unknown = null;
  constructor(private readonly pan: FakePan) {}
  open(ref: FileRef): ReadHandleLike {
    this.opened.push(ref);
    const node = this.pan.files.get(ref.id);
    const read = async (position: number, length: number): Promise<Buffer> => {
      this.reads++;
      if (this.failWith) throw this.failWith;
      if (!node) throw new PanError({ kind: 'not-found', message: 'gone', code: 5066 });
      return Buffer.from(node.data.subarray(position, position + length));
    };
    return {
      read,
      readInto: async (position, length, into) => (await read(position, length)).copy(into),
      close: () => {
        this.closed++;
      },
    };
  }
  dropFile(fileId: string): void {
    this.dropped.push(fileId);
  }
}

export interface Enqueued {
  ino: number;
  stagingPath: string;
  size: number;
  md5: string;
  delayMs?: number;
}

/** UploadPort journaling into the real upload_journal table; nothing is uploaded unless a test commits. */
export class FakeUploads implements UploadPort {
  readonly enqueued: Enqueued[] = [];
  readonly held: number[] = [];
  readonly waited: number[] = [];
  waitResult: () => Promise<void> = () => Promise.resolve();
  constructor(readonly journal: UploadJournal) {}
  enqueue(
    ino: number,
    { stagingPath, size, md5: md5sum }: { stagingPath: string; size: number; md5: string },
    opts?: { delayMs?: number },
  ): void {
    this.enqueued.push({ ino, stagingPath, size, md5: md5sum, ...(opts?.delayMs ? { delayMs: opts.delayMs } : {}) });
    this.journal.enqueue(ino, stagingPath, size, md5sum);
  }
  hold(ino: number): void {
    this.held.push(ino);
    this.journal.bump(ino);
  }
  abandoned: number[] = [];
  abandon(ino: number): void {
    this.abandoned.push(ino);
    this.journal.drop(ino);
  }
  waitFor(ino: number): Promise<void> {
    this.waited.push(ino);
    return this.waitResult();
  }
  readonly expedited: number[] = [];
  expedite(ino: number): void {
    this.expedited.push(ino);
  }
  /** inos whose removal the queue was told of */
  readonly removedInos: number[] = [];
  removed(ino: number): void {
    this.removedInos.push(ino);
  }
  /** destinations renames waited for (parentId/name), with the renamed ino; `holdRenames()` holds them */
  readonly namesAwaited: string[] = [];
  readonly renamedInos: number[] = [];
  private renameGate: Gate | null = null;
  /** hold every renaming() until the gate opens; `reached()` resolves once a rename waits there */
  holdRenames(): Gate {
    this.renameGate = new Gate();
    return this.renameGate;
  }
  renaming(ino: number, to: { parentId: string; name: string }): Promise<void> {
    this.renamedInos.push(ino);
    this.namesAwaited.push(`${to.parentId}/${to.name}`);
    return this.renameGate?.pass() ?? Promise.resolve();
  }
  last(): Enqueued | undefined {
    return this.enqueued.at(-1);
  }
}

export interface Harness {
  vfs: PanVfs;
  /** vfs's writeback (local content, upload target), attached to `uploads` */
  writeback: Writeback;
  /** the same object seen through the Vfs interface (full op signatures, e.g. fsync's datasync) */
  fs: Vfs;
  pan: FakePan;
  store: NodeStore;
  db: MetaDb;
  journal: UploadJournal;
  clock: FakeClock;
  account: FakeAccount;
  reader: FakeReader;
  uploads: FakeUploads;
  staging: StagingPort & { created: number; reopened: string[] };
  dir: string;
  stagingFiles(): string[];
  /** a second PanVfs over the same store/journal/staging (a restarted daemon) */
  restart(opts?: Partial<VfsOptions>): PanVfs;
  /** closes every PanVfs built (their writebacks' open staging files), the store, and removes the dir */
  close(): Promise<void>;
}

export const DEFAULT_OPTS: VfsOptions = { readOnly: false, uid: 1234, gid: 5678, umask: 0o022, dirCacheTimeMs: 60_000 };

export function makeHarness(
  opts: Partial<VfsOptions> = {},
  seed?: (pan: FakePan) => void,
  logger: Logger = silentLogger,
): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'pan123fs-vfs-'));
  const clock = new FakeClock('instant'); // the vfs neither sleeps nor sets timers
  const pan = new FakePan();
  pan.now = () => clock.now() - 60_000; // seeded entries are a minute old
  seed?.(pan);
  const db = openMetaDb(join(dir, 'meta.db'));
  const store = new NodeStore(db);
  store.ensureRoot(ROOT_ID, clock.now());
  const journal = new UploadJournal(db, clock);
  const account = new FakeAccount();
  const reader = new FakeReader(pan);
  const uploads = new FakeUploads(journal);
  const staging = {
    created: 0,
    reopened: [] as string[],
    create(ino: number) {
      this.created++;
      return StagingFile.create(dir, `i${ino}`);
    },
    reopen(p: string) {
      this.reopened.push(p);
      return StagingFile.fromExisting(p);
    },
    removePath: (p: string) => rm(p, { force: true }),
    list: async () => {
      try {
        return readdirSync(stagingDir(dir)).map((n) => join(stagingDir(dir), n));
      } catch {
        return [];
      }
    },
  };
  const built: PanVfs[] = [];
  const build = (o: Partial<VfsOptions>) => {
    const writeback = new Writeback({ store, journal, staging, reader, clock, logger });
    writeback.attach(uploads);
    const copier = new PanServerCopier(pan, logger);
    const v = new PanVfs({ store, pan, account, reader, writeback, copier, clock, logger }, { ...DEFAULT_OPTS, ...o });
    built.push(v);
    return v;
  };
  const vfs = build(opts);
  return {
    vfs,
    writeback: vfs.writeback,
    fs: vfs,
    pan,
    store,
    db,
    journal,
    clock,
    account,
    reader,
    uploads,
    staging,
    dir,
    stagingFiles: () => {
      try {
        return readdirSync(stagingDir(dir));
      } catch {
        return [];
      }
    },
    restart: (o = {}) => build({ ...opts, ...o }),
    close: async () => {
      for (const v of built) await v.writeback.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const flags = { RDONLY: 0, WRONLY: 1, RDWR: 2 } as const;

/** await a promise expected to reject with FsError of `kind` */
export async function expectFsError(p: Promise<unknown>, kind: FsErrorKind): Promise<FsError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (!(err instanceof FsError))
    throw new Error(`expected FsError ${kind}, got ${err === undefined ? 'success' : String(err)}`);
  if (err.kind !== kind) throw new Error(`expected FsError ${kind}, got ${err.kind}: ${err.message}`);
  return err;
}

/** create + write (one call) + release */
export async function writeNew(vfs: PanVfs, path: string, data: Buffer): Promise<void> {
  const fh = await vfs.create(path, 0o644);
  if (data.length) await vfs.write(path, fh, data, data.length, 0);
  await vfs.release(path, fh);
}

/** read `size` bytes from an open handle in chunks */
export async function readHandle(vfs: PanVfs, path: string, fh: number, chunk = 4096): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; ; ) {
    const buf = Buffer.alloc(chunk);
    const n = await vfs.read(path, fh, buf, chunk, off);
    if (n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
    off += n;
  }
  return Buffer.concat(parts);
}

/** open read-only, read everything, release */
export async function readAll(vfs: PanVfs, path: string): Promise<Buffer> {
  const fh = await vfs.open(path, flags.RDONLY);
  try {
    return await readHandle(vfs, path, fh);
  } finally {
    await vfs.release(path, fh);
  }
}
