// Issue 15: a zero-byte file the service refuses on every path (create, an empty slice, the single-step
// upload: the emulator's zeroByteRefuse) stays in the mount, listed and journaled; `pan123fs status` (text
// and --json) says why; the log has one line with the cause; nothing retries in a loop, and SIGTERM does
// not wait for it. Written again once the service accepts, it uploads. The mount is touched only by child
// processes.
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, execFileP, fuseAvailable, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';
import { until } from '../support/gate.js';

const run = fuseAvailable();
const slow = { timeoutMs: 60_000, everyMs: 100 };

describe.runIf(run)('zero-byte file refused by the service (issue 15)', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let d: Daemon;

  beforeAll(async () => {
    emu = await mounts.emulator({ zeroByteRefuse: 'reuse,slice,single' });
    d = await mounts.daemon({ apiBase: emu.baseUrl, args: ['--drain-timeout', '10m'] });
  }, 120_000);

  it('stays local and listed, status says why, no retry loop; written again later, it uploads', async () => {
    const m = d.mountpoint;
    await sh(`touch '${m}/empty.txt' && echo hello > '${m}/ok.txt'`);
    const item = await until(
      async () => {
        const it = (await d.status()).uploads.items.find((i) => i.name === 'empty.txt');
        return it?.state === 'refused' && it;
      },
      'the refused state in status --json',
      slow,
    );
    expect(item.lastError).toMatch(/zero-byte.*empty slice: .*single-step upload: /);
    await until(() => emu.tree().find((e) => e.name === 'ok.txt' && !e.trashed), 'ok.txt to arrive', slow);
    expect(emu.tree().filter((e) => e.name === 'empty.txt')).toEqual([]);
    expect((await sh(`ls '${m}'`)).stdout.split('\n')).toContain('empty.txt');
    expect((await sh(`stat -c %s '${m}/empty.txt'`)).stdout.trim()).toBe('0');
    const text = (await execFileP(process.execPath, [BIN, 'status', m, '--state-dir', d.stateDir])).stdout;
    expect(text).toMatch(/refused .*empty\.txt {2}not uploaded .*zero-byte/);
    expect(d.output().match(/upload refused; not retried/g)).toHaveLength(1);
    // no retry loop: the attempts stay at one while other requests come and go
    const before = emu.counters().requests.upload_single ?? 0;
    await sh(`echo again > '${m}/ok2.txt'`);
    await until(() => emu.tree().find((e) => e.name === 'ok2.txt' && !e.trashed), 'ok2.txt to arrive', slow);
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
    await until(
      async () => (await d.status()).uploads.items.find((i) => i.name === 'empty2.txt')?.state === 'refused',
      'empty2.txt refused',
      slow,
    );
    expect(await d.stop('SIGTERM', 60_000)).toBe(0);
    expect(d.output()).toMatch(/uploads left in the journal/);
  });
});
