// Issue 16, cache control end to end: `pan123fs pin / unpin / cache` against a real mount of the emulator.
// Pinned data is on disk (real bytes), a pin that would not fit is refused, a pin follows its file through
// a rename and survives a restart, and pinned files read byte-exact (sha256) with the emulator stopped.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, execFileP, fuseAvailable, ramp, sha256, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';

const run = fuseAvailable();
const MiB = 1024 * 1024;
const FILES: Record<string, number> = {
  'pinme/a.bin': 3 * MiB + 5,
  'pinme/sub/b.bin': MiB,
  'other/c.bin': 2 * MiB + 1,
  'big.bin': 20 * MiB,
};

interface Entry {
  path: string;
  size: number;
  cachedBytes: number;
  pinned: boolean;
}

describe.runIf(run)('pin, unpin, cache (issue 16)', () => {
  const mounts = withMount();
  let emu: EmulatorHandle | undefined;
  let d: Daemon | undefined;
  const sums = new Map<string, string>();
  const cli = (...args: string[]) =>
    execFileP(process.execPath, [BIN, ...args, '--state-dir', d!.stateDir], { timeout: 120_000 });
  const cache = async (): Promise<Map<string, Entry>> => {
    const { stdout } = await cli('cache', d!.mountpoint, '--json');
    return new Map((JSON.parse(stdout) as Entry[]).map((e) => [e.path, e]));
  };

  beforeAll(async () => {
    const data = Object.fromEntries(Object.entries(FILES).map(([rel, size]) => [rel, ramp(size, rel.length)]));
    for (const [rel, b] of Object.entries(data)) sums.set(rel, createHash('sha256').update(b).digest('hex'));
    emu = await mounts.emulator({ seedDir: await mounts.seed(data) });
    d = await mounts.daemon({ apiBase: emu.baseUrl, args: ['--cache-max-size', '16M'] });
  }, 120_000);

  it('pin fetches a folder into the disk cache and cache lists it with its real bytes', async () => {
    const { stdout, stderr } = await cli('pin', join(d!.mountpoint, 'pinme'));
    expect(stdout).toMatch(/pinned .*pinme: 2 files/);
    expect(stderr).toMatch(/pinning .*2\/2 files.*\(100%\)/);
    const c = await cache();
    expect(c.get('/pinme/a.bin')).toEqual({
      path: '/pinme/a.bin',
      size: FILES['pinme/a.bin'],
      cachedBytes: FILES['pinme/a.bin'],
      pinned: true,
    });
    expect(c.get('/pinme/sub/b.bin')).toMatchObject({ cachedBytes: MiB, pinned: true });
    // real on-disk bytes: the block files of the cache dir hold at least what is reported
    const { stdout: du } = await sh(`du -sb --apparent-size ${join(d!.cacheDir, 'chunks')}`);
    expect(Number(du.split('\t')[0])).toBeGreaterThanOrEqual(FILES['pinme/a.bin']! + MiB);
    const { stdout: table } = await cli('cache', d!.mountpoint);
    expect(table).toMatch(/pinned {2}\/pinme\/a\.bin/);
  });

  it('refuses a pin that would not fit in --cache-max-size, and unpin of a path not pinned', async () => {
    const r = await cli('pin', join(d!.mountpoint, 'big.bin')).catch((e) => e as { code: number; stderr: string });
    expect((r as { code: number }).code).not.toBe(0);
    expect((r as { stderr: string }).stderr).toMatch(/would not fit in --cache-max-size/);
    expect((await cache()).get('/big.bin')?.pinned ?? false).toBe(false);
    const u = await cli('unpin', join(d!.mountpoint, 'pinme/a.bin')).catch((e) => e as { stderr: string });
    expect((u as { stderr: string }).stderr).toMatch(/pinned through \/pinme/);
  });

  it('a pin follows its file through a rename and survives a restart', async () => {
    await cli('pin', join(d!.mountpoint, 'other/c.bin'));
    await sh(`mv ${d!.mountpoint}/other/c.bin ${d!.mountpoint}/moved-c.bin`);
    expect((await cache()).get('/moved-c.bin')).toMatchObject({ pinned: true, cachedBytes: FILES['other/c.bin'] });
    expect(await d!.stop()).toBe(0);
    d = await mounts.restart(d!);
    const c = await cache();
    expect(c.get('/moved-c.bin')).toMatchObject({ pinned: true, cachedBytes: FILES['other/c.bin'] });
    expect(c.get('/pinme/a.bin')).toMatchObject({ pinned: true });
  }, 120_000);

  it('pinned files read byte-exact with the emulator (API and CDN) stopped', async () => {
    await emu!.close();
    emu = undefined;
    expect(await sha256(join(d!.mountpoint, 'pinme/a.bin'))).toBe(sums.get('pinme/a.bin'));
    expect(await sha256(join(d!.mountpoint, 'pinme/sub/b.bin'))).toBe(sums.get('pinme/sub/b.bin'));
    expect(await sha256(join(d!.mountpoint, 'moved-c.bin'))).toBe(sums.get('other/c.bin'));
  }, 120_000);

  it('unpin lets the files leave the pinned set', async () => {
    await cli('unpin', join(d!.mountpoint, 'pinme'));
    const c = await cache();
    expect(c.get('/pinme/a.bin')).toMatchObject({ pinned: false, cachedBytes: FILES['pinme/a.bin'] });
    expect(c.get('/moved-c.bin')).toMatchObject({ pinned: true });
  });
});
