// The integration tests' emulator + API client pair (read-links, read-quota): `emulatorClients(prefix)`
// registers an afterAll hook that closes every client and emulator it started (clients first) and removes
// their state dirs, pass or fail, and returns `setup(opts)`: a fresh emulator (no rate limits), an
// HttpPanClient of it (fast retries) and `upload()`, which puts one file in one slice and waits for the
// merge.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import type { EmulatorOptions } from '../../src/emulator/types.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';

export interface Uploaded {
  id: string;
  size: number;
  md5: string;
  /** the service knew the content (instant upload): no slice was sent */
  reused: boolean;
}

export interface EmulatorClient {
  emu: EmulatorHandle;
  c: HttpPanClient;
  upload(parentId: string, name: string, data: Buffer): Promise<Uploaded>;
}

export function emulatorClients(prefix: string): (opts?: EmulatorOptions) => Promise<EmulatorClient> {
  const open: Array<{ close(): Promise<void> }> = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const x of open) await x.close().catch(() => undefined);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  return async (opts = {}) => {
    const emu = await startEmulator({ rateLimitScale: 0, ...opts });
    open.push(emu);
    const stateDir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    dirs.push(stateDir);
    const c = new HttpPanClient({
      apiBase: emu.baseUrl,
      clientId: 'pan123fs-demo',
      clientSecret: 'pan123fs-demo-secret',
      stateDir,
      rateLimitScale: 0,
      retry: { baseMs: 5, capMs: 50 },
    });
    open.unshift(c);
    const upload = async (parentId: string, name: string, data: Buffer): Promise<Uploaded> => {
      const md5 = createHash('md5').update(data).digest('hex');
      const cr = await c.uploadCreate({ parentId, filename: name, md5, size: data.length });
      if (cr.reuse) return { id: cr.fileId, size: data.length, md5, reused: true };
      await c.uploadSlice({ server: cr.servers[0]!, preuploadId: cr.preuploadId, sliceNo: 1, sliceMd5: md5, data });
      for (;;) {
        const r = await c.uploadComplete(cr.preuploadId);
        if (r.completed) return { id: r.fileId, size: data.length, md5, reused: false };
        await systemClock.sleep(20);
      }
    };
    return { emu, c, upload };
  };
}
