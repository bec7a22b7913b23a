// LocalFiles: files whose content lives in a local staging file (being written, or written and not yet
// uploaded). An entry exists while a handle is open; when the last handle closes the staging file is
// closed, and deleted once the content is uploaded (or the file was unlinked). The upload queue reopens
// a pending staging file by its path, so nothing here has to stay open for it.

import type { Logger } from '../core/logger.js';
import type { ReadHandleLike, StagingLike, StagingPort } from './ports.js';

export interface LocalFile {
  ino: number;
  staging: StagingLike;
  writers: number;
  readers: number;
  /** written since it was last journaled for upload */
  modified: boolean;
  unlinked: boolean;
  mtimeMs: number;
  /** the first failed write-behind: the staging file no longer holds what was written */
  writeError: unknown;
  /** bumped by every change; a journal entry describes the version it was taken at */
  version: number;
  /** journaling of this file, serialized: flush/release/fsync/stop wait for the one in flight */
  commits: Promise<void>;
}

/** Download granularity when an existing file is opened for an in-place update. */
const FILL_CHUNK = 8 * 1024 * 1024;

export class LocalFiles {
  private readonly files = new Map<number, LocalFile>();

  constructor(
    private readonly staging: StagingPort,
    private readonly log: Logger,
  ) {}

  get(ino: number): LocalFile | undefined {
    return this.files.get(ino);
  }
  all(): LocalFile[] {
    return [...this.files.values()];
  }
  count(): number {
    return this.files.size;
  }

  async create(ino: number, mtimeMs: number): Promise<LocalFile> {
    return this.register(ino, await this.staging.create(ino), mtimeMs);
  }

  async reopen(ino: number, path: string, mtimeMs: number): Promise<LocalFile> {
    return this.register(ino, await this.staging.reopen(path), mtimeMs);
  }

  private register(ino: number, staging: StagingLike, mtimeMs: number): LocalFile {
    const lf: LocalFile = {
      ino,
      staging,
      writers: 0,
      readers: 0,
      modified: false,
      unlinked: false,
      mtimeMs,
      writeError: undefined,
      version: 0,
      commits: Promise.resolve(),
    };
    this.files.set(ino, lf);
    return lf;
  }

  /** Copy the remote content into the staging file (rclone's rule: no partial overwrite without it). */
  async fill(lf: LocalFile, src: ReadHandleLike, size: number): Promise<void> {
    try {
      let off = 0;
      while (off < size) {
        const data = await src.read(off, Math.min(FILL_CHUNK, size - off));
        if (data.length === 0) throw new Error(`remote file ended at ${off} of ${size} bytes`);
        await lf.staging.write(data, off);
        off += data.length;
      }
    } finally {
      src.close();
    }
  }

  /**
   * Shutdown: close every staging file still open (after its journaling in flight settled). The files
   * stay on disk: journaled ones upload at the next start; the entries are forgotten.
   */
  async closeAll(): Promise<void> {
    const files = [...this.files.values()];
    this.files.clear();
    for (const lf of files) {
      await lf.commits.catch(() => undefined);
      await lf.staging
        .close()
        .catch((e) => this.log.warn({ op: 'stop', ino: lf.ino, err: String(e) }, 'could not close a staging file'));
    }
  }

  async discard(lf: LocalFile): Promise<void> {
    this.files.delete(lf.ino);
    await lf.staging.close().catch(() => undefined);
    await lf.staging
      .remove()
      .catch((e) => this.log.warn({ op: 'staging', ino: lf.ino, err: String(e) }, 'could not remove staging file'));
  }

  /** Delete the staging file of an uploaded file nobody has open (no LocalFile entry). */
  async removeStaging(path: string): Promise<void> {
    await this.staging.removePath(path);
  }

  async markUnlinked(ino: number): Promise<void> {
    const lf = this.files.get(ino);
    if (!lf) return;
    lf.unlinked = true;
    lf.modified = false;
    await this.maybeFree(lf, false);
  }

  /** Close (and when no longer needed, delete) the staging file once no handle uses it. */
  async maybeFree(lf: LocalFile, pendingUpload: boolean): Promise<void> {
    if (lf.writers > 0 || lf.readers > 0 || lf.modified) return;
    if (this.files.get(lf.ino) !== lf) return;
    if (pendingUpload && !lf.unlinked) {
      this.files.delete(lf.ino);
      await lf.staging.close();
      return;
    }
    await this.discard(lf);
  }
}
