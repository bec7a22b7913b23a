// Issue 16, offline and --staging-max-size end to end, through real mounts of the emulator.
// Offline: the emulator (API and CDN) is stopped mid-session: listings still work, cached and pinned files
// read byte-exact, an uncached read fails with EIO within seconds (logged once per file), a mkdir fails
// with ENETDOWN at once, a new file is journaled; the emulator comes back on the same port and data: the
// file uploads (emulator tree MD5) and status shows online with nothing pending. Then the daemon starts
// while the emulator is down, over its existing store: it mounts offline and recovers by itself; without
// a store it refuses to start with one line.
// --staging-max-size: a writer of more than the limit blocks (status shows it waiting, the staging never
// passes the limit) and goes on as uploads drain; every byte arrives; one file larger than the limit is ENOSPC.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import type { DaemonStatus } from '../../src/daemon/status-types.js';
import { BIN, execFileP, fuseAvailable, ramp, sha256, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';
import { until } from '../support/gate.js';

const run = fuseAvailable();
const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** runs a shell command that must fail; returns its stderr and how long it took */
async function failing(cmd: string): Promise<{ stderr: string; ms: number }> {
  const t0 = Date.now();
  const r = await sh(cmd, { timeoutMs: 60_000 }).then(
    () => null,
    (e: { stderr: string }) => e,
  );
  if (r === null) throw new Error(`expected to fail: ${cmd}`);
  return { stderr: r.stderr, ms: Date.now() - t0 };
}

describe.runIf(run)('offline (issue 16)', () => {
  const mounts = withMount();
  let seed: string;
  let emuData: string;
  let listen: string;
  let emu: EmulatorHandle | undefined;
  let d: Daemon | undefined;
  const files: Record<string, Buffer> = {
    'docs/cached.txt': ramp(300_000, 1),
    'docs/pinned.bin': ramp(3 * MiB + 17, 2),
    'docs/uncached.bin': ramp(2 * MiB + 3, 3),
    'docs/sub/deep.txt': ramp(1000, 4),
  };
  const written = ramp(5 * MiB + 11, 5);
  const cli = (...args: string[]) =>
    execFileP(process.execPath, [BIN, ...args, '--state-dir', d!.stateDir], { timeout: 120_000 });
  const args = ['--cache-max-size', '64M', '--dir-cache-time', '1s', '--attr-timeout', '1s'];

  async function startEmu(): Promise<void> {
    emu = await mounts.emulator({ dataDir: emuData, listen });
  }
  async function stopEmu(): Promise<void> {
    await emu?.close();
    emu = undefined;
  }

  beforeAll(async () => {
    seed = await mounts.seed(files);
    emuData = await mounts.tempDir('emu');
    emu = await mounts.emulator({ dataDir: emuData, seedDir: seed });
    listen = new URL(emu.baseUrl).host; // the same port after every restart
    d = await mounts.daemon({ apiBase: emu.baseUrl, args });
  }, 120_000);

  it('mid-session: listings, cached and pinned reads work; uncached reads EIO fast; mkdir ENETDOWN', async () => {
    const m = d!.mountpoint;
    expect(await sha256(join(m, 'docs/cached.txt'))).toBe(sha(files['docs/cached.txt']!));
    await sh(`ls ${m}/docs/sub`);
    await cli('pin', join(m, 'docs/pinned.bin'));
    expect((await d!.status()).offline).toBe(false);

    await stopEmu();
    // listings: the 1 s dir cache has long expired, the re-list fails, the store answers
    await new Promise((r) => setTimeout(r, 1100)); // let the 1 s --dir-cache-time run out (not a sync stand-in)
    const { stdout: ls } = await sh(`ls ${m}/docs`);
    expect(ls.split('\n').filter(Boolean).sort()).toEqual(['cached.txt', 'pinned.bin', 'sub', 'uncached.bin']);
    expect((await sh(`ls ${m}/docs/sub`)).stdout.trim()).toBe('deep.txt');
    expect(await sha256(join(m, 'docs/pinned.bin'))).toBe(sha(files['docs/pinned.bin']!));
    expect(await sha256(join(m, 'docs/cached.txt'))).toBe(sha(files['docs/cached.txt']!));

    const r1 = await failing(`cat ${m}/docs/uncached.bin > /dev/null`);
    expect(r1.stderr).toMatch(/Input\/output error/);
    expect(r1.ms).toBeLessThan(10_000);
    const r2 = await failing(`cat ${m}/docs/uncached.bin > /dev/null`);
    expect(r2.ms).toBeLessThan(5_000);
    const st = await d!.status();
    expect(st.offline).toBe(true);
    expect(new Date(st.offlineSince!).toISOString()).toBe(st.offlineSince);
    const { stdout: human } = await cli('status', m);
    expect(human).toMatch(/OFFLINE {3}since \d{4}-\d\d-\d\dT/);
    // logged once for the file, however many reads failed
    const logged = d!
      .output()
      .split('\n')
      .filter((l) => l.includes('not in the disk cache'));
    expect(logged.filter((l) => l.includes('uncached.bin'))).toHaveLength(1);

    const mk = await failing(`mkdir ${m}/docs/newdir`);
    expect(mk.stderr).toMatch(/Network is down/);
    expect(mk.ms).toBeLessThan(5_000);
    const mv = await failing(`mv ${m}/docs/cached.txt ${m}/docs/renamed.txt`);
    expect(mv.stderr).toMatch(/Network is down/);

    // a new file is a local write: staged and journaled, readable from the staging file
    const src = join(seed, 'written.bin');
    await writeFile(src, written);
    await sh(`cp ${src} ${m}/docs/written.bin`);
    expect(await sha256(join(m, 'docs/written.bin'))).toBe(sha(written));
    const pending = await d!.status();
    expect(pending.offline).toBe(true);
    expect(pending.uploads.totals.files).toBe(1);
  }, 180_000);

  it('the emulator is back (same port and data): the write uploads and the mount is normal again', async () => {
    await startEmu();
    const st = await until(
      async () => {
        const s = await d!.status();
        return s.offline === false && s.uploads.totals.files === 0 && s;
      },
      'online with nothing pending',
      { timeoutMs: 90_000, everyMs: 200, retryErrors: true },
    );
    expect(st.offlineSince).toBeUndefined();
    const up = emu!.tree().find((e) => e.path.endsWith('docs/written.bin'));
    expect(up?.md5).toBe(md5(written));
    expect(await sha256(join(d!.mountpoint, 'docs/uncached.bin'))).toBe(sha(files['docs/uncached.bin']!));
    await sh(`mkdir ${d!.mountpoint}/docs/newdir`);
    expect(emu!.tree().some((e) => e.path.endsWith('docs/newdir') && e.type === 'folder')).toBe(true);
  }, 180_000);

  it('starts offline over an existing store while the emulator is down, and recovers when it starts', async () => {
    const { mountpoint } = d!;
    const before = d!;
    expect(await d!.stop()).toBe(0);
    d = undefined;
    await stopEmu();
    d = await mounts.restart(before, { apiBase: `http://${listen}` });
    expect(d.output()).toMatch(/pan123fs: offline \(/);
    const st: DaemonStatus = await d.status();
    expect(st.offline).toBe(true);
    expect(st.offlineCause).toMatch(/ECONNREFUSED/);
    expect(st.account.uid).not.toBe(''); // the last known account, from the store
    const { stdout: ls } = await sh(`ls ${mountpoint}/docs`);
    expect(ls).toMatch(/written\.bin/);
    expect(await sha256(join(mountpoint, 'docs/pinned.bin'))).toBe(sha(files['docs/pinned.bin']!));

    await startEmu();
    await until(async () => (await d!.status()).offline === false, 'online', {
      timeoutMs: 90_000,
      everyMs: 200,
      retryErrors: true,
    });
    await sh(`mkdir ${mountpoint}/docs/after`);
    expect(emu!.tree().some((e) => e.path.endsWith('docs/after'))).toBe(true);
  }, 240_000);

  it('without a store, a start while the emulator is down fails with one line', async () => {
    await stopEmu();
    const err = await mounts.daemon({ apiBase: `http://${listen}` }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/cannot reach the 123 Open API at http:\/\/127\.0\.0\.1:\d+: .*check the network/);
    await startEmu();
  }, 120_000);
});

describe.runIf(run)('--staging-max-size (issue 16)', () => {
  const mounts = withMount();
  let seed: string;
  let emu: EmulatorHandle;
  let d: Daemon;
  const data = [0, 1, 2].map((i) => ramp(6 * MiB + i, 10 + i));

  beforeAll(async () => {
    seed = await mounts.seed({
      ...Object.fromEntries(data.map((b, i) => [`s${i}.bin`, b])),
      'big.bin': ramp(9 * MiB, 20),
    });
    emu = await mounts.emulator();
    // a slow uplink (4 MiB/s), so each 6 MiB upload takes ~1.5 s and the writer must wait for it
    d = await mounts.daemon({ apiBase: emu.baseUrl, args: ['--staging-max-size', '8M', '--bwlimit-up', '4M'] });
  }, 120_000);

  it('blocks a writer while the staging is full and lets it go as uploads drain, losing nothing', async () => {
    const m = d.mountpoint;
    const copy = sh(`for i in 0 1 2; do cp ${seed}/s$i.bin ${m}/s$i.bin; done`);
    let copied = false;
    void copy.then(() => {
      copied = true;
    });
    let maxBytes = 0;
    let sawWaiting = false;
    while (!copied) {
      const st = await d.status();
      maxBytes = Math.max(maxBytes, st.staging!.bytes);
      if (st.staging!.waitingWriters > 0) sawWaiting = true;
      await new Promise((r) => setTimeout(r, 50));
    }
    await copy;
    expect(sawWaiting).toBe(true);
    expect(maxBytes).toBeLessThanOrEqual(8 * MiB);
    await d.uploadsSettled();
    expect((await d.status()).staging!.bytes).toBe(0);
    for (const [i, b] of data.entries()) {
      expect(emu.tree().find((e) => e.path.endsWith(`s${i}.bin`))?.md5).toBe(md5(b));
      expect(await sha256(join(m, `s${i}.bin`))).toBe(sha(b));
    }
  }, 180_000);

  it('a file larger than the limit on its own fails with ENOSPC', async () => {
    const r = await failing(`cp ${seed}/big.bin ${d.mountpoint}/big.bin`);
    expect(r.stderr).toMatch(/No space left on device/);
  }, 60_000);
});
