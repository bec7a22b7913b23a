// The control socket: a Unix socket (mode 0600, in the state dir) speaking one JSON request and one JSON
// answer per line. Commands: status, refresh {path, recursive}, unmount. Used by `pan123fs status`,
// `pan123fs refresh` and `pan123fs unmount`.

import { createHash } from 'node:crypto';
import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from '../core/logger.js';
import type { DaemonStatus } from './status-types.js';

export function controlSocketPath(stateDir: string, mountpoint: string): string {
  const h = createHash('sha256').update(resolve(mountpoint)).digest('hex').slice(0, 12);
  return join(stateDir, `control-${h}.sock`);
}

export interface ControlHandlers {
  status(): DaemonStatus;
  refresh(path: string, recursive: boolean): Promise<number>;
  stop(): void;
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
        void this.answer(line).then((out) => sock.end(`${JSON.stringify(out)}\n`));
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

  private async answer(line: string): Promise<unknown> {
    try {
      const req = JSON.parse(line) as { cmd: string; path?: string; recursive?: boolean };
      switch (req.cmd) {
        case 'status':
          return { ok: true, status: this.h.status() };
        case 'refresh':
          return { ok: true, dirs: await this.h.refresh(req.path ?? '/', req.recursive ?? false) };
        case 'unmount':
          this.h.stop();
          return { ok: true };
        default:
          return { ok: false, error: `unknown command ${req.cmd}` };
      }
    } catch (e) {
      this.log.warn({ op: 'control', err: String(e) }, 'control request failed');
      return { ok: false, error: (e as Error).message };
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
// biome-ignore lint/suspicious/noExplicitAny: a JSON answer whose shape the caller knows
export function controlRequest(path: string, req: object, timeoutMs = 10_000): Promise<any> {
  return new Promise((resolveP, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from ${path} in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d: string) => {
      buf += d;
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
