// Runs `pan123fs serve webdav` (the built dist/) in a subprocess against an emulator, waits for its ready
// line and reads the URL it listens on from it (--webdav 127.0.0.1:0 picks a free port). stop() always
// ends the process (SIGTERM, then SIGKILL).

import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, tempDir } from './pan-daemon.js';

export interface WebdavDaemon {
  proc: ChildProcess;
  url: string;
  cacheDir: string;
  output(): string;
  stop(): Promise<number | null>;
}

export async function startWebdavDaemon(o: {
  apiBase: string;
  args?: string[];
  env?: Record<string, string>;
}): Promise<WebdavDaemon> {
  const cacheDir = await tempDir('dav-cache');
  const stateDir = await tempDir('dav-state');
  const args = [
    BIN,
    'serve',
    'webdav',
    '--webdav',
    '127.0.0.1:0',
    '--api-base',
    o.apiBase,
    '--client-id',
    'pan123fs-demo',
    '--cache-dir',
    cacheDir,
    '--state-dir',
    stateDir,
    '--log-level',
    'debug',
    ...(o.args ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, PAN123_CLIENT_SECRET: 'pan123fs-demo-secret', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const url = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`serve webdav not ready after 30 s:\n${out.slice(-4000)}`)), 30_000);
    const check = () => {
      const m = /over WebDAV at (\S+) \(ready\)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(t);
      rej(new Error(`serve webdav exited with ${code} before ready:\n${out.slice(-4000)}`));
    });
  }).catch(async (e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  return {
    proc,
    url,
    cacheDir,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'t'>((r) => setTimeout(() => r('t'), 60_000))]);
      if (code === 't') {
        proc.kill('SIGKILL');
        await exited;
        return null;
      }
      return code;
    },
  };
}
