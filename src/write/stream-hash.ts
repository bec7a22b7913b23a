// Streaming MD5 for staging files, computed on a worker thread so hashing (~1.7 s of CPU per GiB) runs on
// the second core instead of the event loop that answers every FUSE request. One worker per process,
// shared by all staging files; messages are ordered, so a digest covers exactly the updates posted
// before it. Falls back to an in-thread hash when a worker cannot be started, and a failed worker turns
// every open stream invalid (the caller then re-reads the file), so no wrong MD5 can come out of it.
//
// Backpressure: the bytes posted and not yet hashed are counted; writers wait (below()) while more than
// MAX_INFLIGHT_BYTES are queued, so memory stays bounded when writes outrun the hash.
//
// Recycling (issue 19): the worker hands every buffer it hashed back (transferred, so no copy and no view
// of it is left anywhere), and up to RECYCLE_KEEP of RECYCLE_BYTES are kept for recycledBuffer(): staging
// files take their 1 MiB write buffers from there. Before, each MiB written was a fresh 1 MiB buffer freed
// by the worker's own GC, whenever it ran: garbage in two isolates and in glibc's heap.

import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface StreamHash {
  /**
   * Add the next bytes. The hash may take ownership of `data` (its memory can be detached); with `owned`
   * the caller also gives up the rest of data's ArrayBuffer, so it can be handed over without a copy.
   */
  update(data: Buffer, owned?: boolean): void;
  /** Hex MD5 of everything so far (the stream continues). Rejects when the stream is broken. */
  digest(): Promise<string>;
  dispose(): void;
}

/** 16 MiB of queued hash work at most (then writers wait until it is under half): 64 MiB was a quarter of
 * issue 19's 300 MB budget for work the worker hashes at ~600 MB/s. */
const MAX_INFLIGHT_BYTES = 16 * 1024 * 1024;
/** The size of buffer that is recycled: staging's 1 MiB write buffer (COALESCE_BYTES). */
export const RECYCLE_BYTES = 1 << 20;
/** 8 idle 1 MiB buffers at most: the write-behind of a file or two; beyond that they go to the GC. */
const RECYCLE_KEEP = 8;
const recycled: ArrayBuffer[] = [];
const recycling = { returned: 0, reused: 0 };

/** A buffer of `bytes` that the caller owns: a recycled one when the size is RECYCLE_BYTES and one is idle. */
export function recycledBuffer(bytes: number): Buffer {
  const ab = bytes === RECYCLE_BYTES ? recycled.pop() : undefined;
  if (!ab) return Buffer.allocUnsafeSlow(bytes);
  recycling.reused++;
  return Buffer.from(ab, 0, bytes);
}

/** Buffers the hash worker handed back, and how many recycledBuffer() gave out again (for tests). */
export function recyclingStats(): { returned: number; reused: number; idle: number } {
  return { ...recycling, idle: recycled.length };
}

export class LocalHash implements StreamHash {
  constructor(private readonly h: Hash = createHash('md5')) {}
  update(data: Buffer): void {
    this.h.update(data);
  }
  digest(): Promise<string> {
    return Promise.resolve(this.h.copy().digest('hex'));
  }
  dispose(): void {}
}

const WORKER_SOURCE =
  `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const streams = new Map();
parentPort.on('message', (m) => {
  if (m.t === 'n') streams.set(m.id, createHash('md5'));
  else if (m.t === 'u') { const h = streams.get(m.id); if (h) h.update(new Uint8Array(m.b, m.o, m.l)); ` +
  `parentPort.postMessage({ t: 'a', n: m.l, b: m.b }, [m.b]); }
  else if (m.t === 'd') { const h = streams.get(m.id); parentPort.postMessage({ t: 'd', q: m.q, ` +
  `md5: h ? h.copy().digest('hex') : null }); }
  else if (m.t === 'x') streams.delete(m.id);
});`;

/** From the worker: 'a' (hashed n bytes; b: the buffer, handed back), 'd' (digest q). */
interface WorkerMessage {
  t: string;
  n?: number;
  b?: ArrayBuffer;
  q?: number;
  md5?: string | null;
}

class HashWorker {
  private worker: Worker | null = null;
  private broken = false;
  private nextId = 1;
  private nextQ = 1;
  private readonly digests = new Map<number, { resolve(v: string): void; reject(e: Error): void }>();
  private inflight = 0;
  private waiters: Array<() => void> = [];
  /** bumped when the worker dies: streams from an older epoch are invalid */
  epoch = 0;

  available(): boolean {
    if (this.broken) return false;
    if (this.worker) return true;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: WorkerMessage) => this.onMessage(m));
      w.on('error', (e) => this.fail(e));
      w.on('exit', () => this.fail(new Error('hash worker exited')));
      w.unref();
      this.worker = w;
      return true;
    } catch {
      this.broken = true;
      return false;
    }
  }

  open(): number {
    const id = this.nextId++;
    this.worker!.postMessage({ t: 'n', id });
    return id;
  }

  update(id: number, data: Buffer, owned: boolean): void {
    if (!this.worker) return;
    const length = data.length;
    const whole = data.byteOffset === 0 && data.buffer.byteLength === length;
    const transfer = (owned || whole) && data.buffer instanceof ArrayBuffer;
    const b = transfer ? (data.buffer as ArrayBuffer) : new Uint8Array(data).buffer;
    const o = transfer ? data.byteOffset : 0;
    this.inflight += length;
    this.ref();
    this.worker.postMessage({ t: 'u', id, b, o, l: length }, [b]);
  }

  digest(id: number): Promise<string> {
    if (!this.worker) return Promise.reject(new Error('hash worker unavailable'));
    const q = this.nextQ++;
    const p = new Promise<string>((resolve, reject) => this.digests.set(q, { resolve, reject }));
    this.ref();
    this.worker.postMessage({ t: 'd', id, q });
    return p;
  }

  close(id: number): void {
    this.worker?.postMessage({ t: 'x', id });
  }

  /** Resolves once the queued hash work is under half the limit (immediately when it already is). */
  below(): Promise<void> {
    if (this.inflight <= MAX_INFLIGHT_BYTES) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private onMessage(m: WorkerMessage): void {
    if (m.t === 'a') {
      this.inflight -= m.n ?? 0;
      if (m.b) {
        recycling.returned++;
        if (m.b.byteLength === RECYCLE_BYTES && recycled.length < RECYCLE_KEEP) recycled.push(m.b);
      }
      if (this.inflight <= MAX_INFLIGHT_BYTES / 2) for (const w of this.waiters.splice(0)) w();
    } else if (m.t === 'd') {
      const d = this.digests.get(m.q!);
      this.digests.delete(m.q!);
      if (m.md5) d?.resolve(m.md5);
      else d?.reject(new Error('hash stream unknown to the worker'));
    }
    this.unrefWhenIdle();
  }

  private fail(e: Error): void {
    if (!this.worker) return;
    this.worker = null;
    this.epoch++;
    this.inflight = 0;
    for (const d of this.digests.values()) d.reject(e);
    this.digests.clear();
    for (const w of this.waiters.splice(0)) w();
  }

  // the worker keeps the process alive only while work is outstanding
  private ref(): void {
    this.worker?.ref();
  }
  private unrefWhenIdle(): void {
    if (this.inflight === 0 && this.digests.size === 0) this.worker?.unref();
  }
}

const shared = new HashWorker();

class WorkerHash implements StreamHash {
  private readonly id: number;
  private readonly epoch: number;
  constructor() {
    this.id = shared.open();
    this.epoch = shared.epoch;
  }
  update(data: Buffer, owned = false): void {
    if (shared.epoch === this.epoch) shared.update(this.id, data, owned);
  }
  digest(): Promise<string> {
    if (shared.epoch !== this.epoch) return Promise.reject(new Error('hash worker restarted: stream lost'));
    return shared.digest(this.id);
  }
  dispose(): void {
    if (shared.epoch === this.epoch) shared.close(this.id);
  }
}

/** A new MD5 stream: on the shared worker thread when possible, else in this thread. */
export function newStreamHash(): StreamHash {
  return shared.available() ? new WorkerHash() : new LocalHash();
}

/** Wait while too much hash work is queued (backpressure for writers). */
export function hashBackpressure(): Promise<void> {
  return shared.below();
}
