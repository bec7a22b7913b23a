// Issue 16, bandwidth limits end to end: a read through a mount started with --bwlimit-down 10M runs at
// about 10 MiB/s (bytes / wall time; bounds wide enough for a loaded 2-core machine), bytes exact, and
// `status --json` shows the limits.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import {
  BIN,
  cleanup,
  execFileP,
  fuseAvailable,
  ramp,
  sha256,
  startDaemon,
  tempDir,
  type Daemon,
} from '../helpers/pan-daemon.js';

const run = fuseAvailable();
const MiB = 1024 * 1024;
const SIZE = 48 * MiB;
const RATE = 10 * MiB;

describe.runIf(run)('bandwidth limits (issue 16)', () => {
  let seed: string;
  let emu: EmulatorHandle;
  let d: Daemon;
  let sum: string;

  beforeAll(async () => {
    seed = await tempDir('seed');
    const data = ramp(SIZE, 7);
    await writeFile(join(seed, 'f.bin'), data);
    sum = createHash('sha256').update(data).digest('hex');
    emu = await startEmulator({ dataDir: await tempDir('emu'), seedDir: seed, rateLimitScale: 0 });
    d = await startDaemon({
      apiBase: emu.baseUrl,
      args: ['--bwlimit-down', '10M', '--bwlimit-up', '2M', '--cache-max-size', '0'],
    });
  }, 120_000);

  afterAll(async () => {
    await d?.stop();
    await emu?.close();
    await cleanup(seed);
  });

  it('--bwlimit-down 10M keeps a 48 MiB read near 10 MiB/s', async () => {
    const t0 = Date.now();
    expect(await sha256(join(d.mountpoint, 'f.bin'))).toBe(sum);
    const s = (Date.now() - t0) / 1000;
    // one second of burst is free: at most (48 - 10) / 10 = 3.8 s can be saved, never more
    const floor = (SIZE - RATE) / RATE;
    console.log(`48 MiB at --bwlimit-down 10M: ${s.toFixed(2)} s, ${(SIZE / MiB / s).toFixed(1)} MiB/s`);
    expect(s).toBeGreaterThanOrEqual(floor * 0.95);
    expect(s).toBeLessThan(floor * 6); // "near": loose, a loaded machine reads slower; the floor is the check
  }, 120_000);

  it('status shows the limits', async () => {
    const { stdout } = await execFileP(process.execPath, [
      BIN,
      'status',
      d.mountpoint,
      '--json',
      '--state-dir',
      d.stateDir,
    ]);
    expect(JSON.parse(stdout).limits).toEqual({ bwlimitDown: RATE, bwlimitUp: 2 * MiB });
    const { stdout: human } = await execFileP(process.execPath, [
      BIN,
      'status',
      d.mountpoint,
      '--state-dir',
      d.stateDir,
    ]);
    expect(human).toMatch(/bandwidth +down 10\.0 MiB\/s, up 2\.0 MiB\/s/);
  });
});
