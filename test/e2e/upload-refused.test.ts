// Issue 15: a zero-byte file the service refuses on every path (create, an empty slice, the single-step
// upload: the emulator's zeroByteRefuse) stays in the mount, listed and journaled; `pan123fs status` (text
// and --json) says why; the log has one line with the cause; nothing retries in a loop, and SIGTERM does
// not wait for it. Written again once the service accepts, it uploads. The mount is touched only by child
// processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, execFileP, fuseAvailable, sh, startDaemon, tempDir, type Daemon } from '../helpers/pan-daemon.js';

const run = fuseAvailable();

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.runIf(run)('zero-byte file refused by the service (issue 15)', () => {
  let emu: EmulatorHandle;
  let d: Daemon;

  beforeAll(async () => {
    emu = await startEmulator({
      dataDir: await tempDir('emu'),
      rateLimitScale: 0,
      zeroByteRefuse: 'reuse,slice,single',
    });
    d = await startDaemon({ apiBase: emu.baseUrl, args: ['--drain-timeout', '10m'] });
  }, 120_000);

  afterAll(async () => {
    await d?.stop();
    await emu?.close();
  });

  it('stays local and listed, status says why, no retry loop; written again later, it uploads', async () => {
    const m = d.mountpoint;
    await sh(`touch '${m}/empty.txt' && echo hello > '${m}/ok.txt'`);
    const item = await until('the refused state in status --json', async () => {
      const it = (await d.status()).uploads.items.find((i) => i.name === 'empty.txt');
      return it?.state === 'refused' ? it : undefined;
    });
    expect(item.lastError).toMatch(/zero-byte.*empty slice: .*single-step upload: /);
    await until('ok.txt to arrive', async () => emu.tree().find((e) => e.name === 'ok.txt' && !e.trashed));
    expect(emu.tree().filter((e) => e.name === 'empty.txt')).toEqual([]);
    expect((await sh(`ls '${m}'`)).stdout.split('\n')).toContain('empty.txt');
    expect((await sh(`stat -c %s '${m}/empty.txt'`)).stdout.trim()).toBe('0');
    const text = (await execFileP(process.execPath, [BIN, 'status', m, '--state-dir', d.stateDir])).stdout;
    expect(text).toMatch(/refused .*empty\.txt {2}not uploaded .*zero-byte/);
    expect(d.output().match(/upload refused; not retried/g)).toHaveLength(1);
    // no retry loop: the attempts stay at one while other requests come and go
    const before = emu.counters().requests.upload_single ?? 0;
    await sh(`echo again > '${m}/ok2.txt'`);
    await until('ok2.txt to arrive', async () => emu.tree().find((e) => e.name === 'ok2.txt' && !e.trashed));
    const st = (await d.status()).uploads.items.find((i) => i.name === 'empty.txt')!;
    expect(st).toMatchObject({ state: 'refused', attempts: 1 });
    expect(emu.counters().requests.upload_single ?? 0).toBe(before + 1); // ok2.txt's own (single-step)
    // the service accepts now; written again, the empty file uploads
    emu.setConfig({ zeroByteRefuse: '' });
    await sh(`echo x > '${m}/empty.txt' && : > '${m}/empty.txt'`); // a change (truncating 0 bytes is none)
    await d.uploadsSettled();
    expect(emu.tree().filter((e) => e.name === 'empty.txt' && !e.trashed)).toMatchObject([{ size: 0 }]);
  });

  it('SIGTERM does not wait (10 min drain) for a refused file: it stays in the journal', async () => {
    emu.setConfig({ zeroByteRefuse: 'reuse,slice,single' });
    await sh(`touch '${d.mountpoint}/empty2.txt'`);
    await until('empty2.txt refused', async () => {
      const it = (await d.status()).uploads.items.find((i) => i.name === 'empty2.txt');
      return it?.state === 'refused' ? it : undefined;
    });
    expect(await d.stop('SIGTERM', 60_000)).toBe(0);
    expect(d.output()).toMatch(/uploads left in the journal/);
  });
});
