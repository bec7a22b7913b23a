// Issue 16, bandwidth limits end to end: a read through a mount started with --bwlimit-down 10M runs at
// about 10 MiB/s (bytes / wall time; bounds wide enough for a loaded 2-core machine), bytes exact, and
// `status --json` shows the limits, and (issue 13) each open read stream with its rate while it reads,
// and today's bytes fetched vs served.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../src/daemon/status-types.js';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, execFileP, fuseAvailable, ramp, sha256, withMount, type Daemon } from '../helpers/pan-daemon.js';

const run = fuseAvailable();
const MiB = 1024 * 1024;
const SIZE = 48 * MiB;
const RATE = 10 * MiB;

describe.runIf(run)('bandwidth limits (issue 16)', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let d: Daemon;
  let sum: string;

  beforeAll(async () => {
    const data = ramp(SIZE, 7);
    const seed = await mounts.seed({ 'f.bin': data, 'g.bin': ramp(SIZE, 8) });
    sum = createHash('sha256').update(data).digest('hex');
    emu = await mounts.emulator({ seedDir: seed });
    d = await mounts.daemon({
      apiBase: emu.baseUrl,
      args: ['--bwlimit-down', '10M', '--bwlimit-up', '2M', '--cache-max-size', '0'],
    });
  }, 120_000);

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
    expect(JSON.parse(stdout).limits).toEqual({ bwlimitDown: RATE, bwlimitUp: 2 * MiB, stagingMaxSize: 0 });
    const { stdout: human } = await execFileP(process.execPath, [
      BIN,
      'status',
      d.mountpoint,
      '--state-dir',
      d.stateDir,
    ]);
    expect(human).toMatch(/bandwidth +down 10\.0 MiB\/s, up 2\.0 MiB\/s/);
  });

  it('status shows a read stream with its rate while it reads, and bytes fetched vs served today', async () => {
    const before = (await d.status()).traffic!;
    // a child reads 40 MiB of g.bin (~3 s at 10 MiB/s after the 1 s burst), says so, and keeps the file
    // open until told to close it
    const child = spawn(
      'bash',
      ['-c', 'exec 3<"$1"; head -c 40M <&3 >/dev/null; echo read; read x', 'sh', join(d.mountpoint, 'g.bin')],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((r) => child.once('exit', r));
    let readDone = false;
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('read')) readDone = true;
    });
    type Stream = NonNullable<DaemonStatus['streams']>[number];
    let last: Stream | undefined;
    let fastest = 0;
    try {
      for (const end = Date.now() + 60_000; Date.now() < end; ) {
        const done = readDone; // polled after the child said so: the stream holds its 40 MiB
        last = (await d.status()).streams?.find((st) => st.name.endsWith('g.bin'));
        fastest = Math.max(fastest, last?.bytesPerSec ?? 0);
        if (done && last) break;
      }
    } finally {
      child.stdin.end('\n');
      await exited;
    }
    expect(last).toMatchObject({ size: SIZE });
    expect(last!.bytesServed).toBeGreaterThanOrEqual(40 * MiB);
    expect(last!.position).toBeGreaterThanOrEqual(40 * MiB);
    expect(fastest).toBeGreaterThan(0); // seen while reading (the rate looks back 5 s)
    expect(fastest).toBeLessThan(4 * RATE); // a rate, not a total
    // the kernel sends RELEASE after close(2) returned: wait for the stream to go
    let after = await d.status();
    for (const end = Date.now() + 30_000; after.streams!.some((st) => st.name.endsWith('g.bin')); ) {
      if (Date.now() > end) throw new Error('the closed stream is still listed');
      after = await d.status();
    }
    const t = after.traffic!;
    expect(t.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(t.servedBytes - before.servedBytes).toBeGreaterThanOrEqual(40 * MiB);
    expect(t.fetchedBytes - before.fetchedBytes).toBeGreaterThanOrEqual(t.servedBytes - before.servedBytes);
    expect(t.fetchedBytes - before.fetchedBytes).toBeLessThanOrEqual(SIZE); // read-ahead stops at the file
    expect(emu.counters().bytesServed).toBeGreaterThanOrEqual(t.fetchedBytes); // the emulator sent them
  }, 120_000);
});
