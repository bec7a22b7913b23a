// The control socket: a Unix socket (mode 0600, in the state dir) speaking one JSON request and one JSON
// answer per line. Commands: status, refresh {path, recursive}, unmount, pin {path}, unpin {path},
// cache {path, all}. Used by `pan123fs status`, `refresh`, `unmount`, `pin`, `unpin` and `cache`.
// `pin` streams: zero or more `{"progress": …}` lines come before its one answer line.

import { createHash } from 'node:crypto';
import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from '../core/logger.js';
import type { CacheEntry, PinProgress, PinResult } from '../vfs/pins.js';

export type { CacheEntry, PinProgress, PinResult } from '../vfs/pins.js';
import type { DaemonStatus } from './status-types.js';

export function controlSocketPath(stateDir: string, mountpoint: string): string {
  const h = createHash('sha256').update(resolve(mountpoint)).digest('hex').slice(0, 12);
  return join(stateDir, `control-${h}.sock`);
}

export interface ControlHandlers {
  status(): DaemonStatus;
  refresh(path: string, recursive: boolean): Promise<number>;
  stop(): void;
  pin(path: string, onProgress: (p: PinProgress) => void): Promise<PinResult>;
  unpin(path: string): Promise<void>;
  cache(path: string, all: boolean): Promise<CacheEntry[]>;
}

export class ControlServer {
  private server: Server | null = null;
  constructor(
    readonly path: string,
    private readonly h: ControlHandlers,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
    const server = createServer((sock) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = '';
        const progress = (p: PinProgress) => {
          if (!sock.destroyed) sock.write(`${JSON.stringify({ progress: p })}\n`);
        };
        void this.answer(line, progress).then((out) => {
          if (!sock.destroyed) sock.end(`${JSON.stringify(out)}\n`);
        });
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(this.path, () => res());
    });
    await chmod(this.path, 0o600);
    this.server = server;
  }

  private async answer(line: string, progress: (p: PinProgress) => void): Promise<unknown> {
    try {
      const req = JSON.parse(line) as { cmd: string; path?: string; recursive?: boolean; all?: boolean };
      switch (req.cmd) {
        case 'status':
          return { ok: true, status: this.h.status() };
        case 'refresh':
          return { ok: true, dirs: await this.h.refresh(req.path ?? '/', req.recursive ?? false) };
        case 'pin':
          return { ok: true, pinned: await this.h.pin(req.path ?? '/', progress) };
        case 'unpin':
          await this.h.unpin(req.path ?? '/');
          return { ok: true };
        case 'cache':
          return { ok: true, entries: await this.h.cache(req.path ?? '/', req.all ?? false) };
        case 'unmount':
          this.h.stop();
          return { ok: true };
        default:
          return { ok: false, error: `unknown command ${req.cmd}` };
      }
    } catch (e) {
      this.log.warn({ op: 'control', err: String(e) }, 'control request failed');
      return { ok: false, error: (e as Error).message, kind: (e as { kind?: string }).kind };
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    await unlink(this.path).catch(() => undefined);
  }
}

/** Client side: send one request, get one answer. */
export function controlRequest(
  path: string,
  req: object,
  timeoutMs = 10_000,
  onProgress?: (p: PinProgress) => void,
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer whose shape the caller knows
): Promise<any> {
  return new Promise((resolveP, reject) => {
    const sock = createConnection(path);
    let buf = '';
    let t: NodeJS.Timeout | undefined;
    // with onProgress the timeout is an idle timeout: every progress line restarts it
    const arm = () => {
      clearTimeout(t);
      t = setTimeout(() => {
        sock.destroy();
        reject(new Error(`no answer from ${path} in ${timeoutMs} ms`));
      }, timeoutMs);
    };
    arm();
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        if (!line.startsWith('{"progress":')) break;
        buf = buf.slice(nl + 1);
        if (onProgress) arm();
        onProgress?.((JSON.parse(line) as { progress: PinProgress }).progress);
      }
    });
    sock.on('end', () => {
      clearTimeout(t);
      try {
        resolveP(JSON.parse(buf));
      } catch (e) {
        reject(e);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}
