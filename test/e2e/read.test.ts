// Issue 3 end to end: browse and read through a real FUSE mount (daemon in a subprocess) against the
// emulator. Bytes are compared by sha256 with the seed files; the mount is touched only by child
// processes (see test/helpers/pan-daemon.ts).
import { createHash } from 'node:crypto';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { execFileP, fuseAvailable, ramp, sh, sha256s, withMount, type Daemon } from '../helpers/pan-daemon.js';

const run = fuseAvailable();
const KiB = 1024;
const MiB = 1024 * KiB;

const FILES: Record<string, number> = {
  'empty.bin': 0,
  'one.bin': 1,
  'sizes/128k-1.bin': 128 * KiB - 1,
  'sizes/128k.bin': 128 * KiB,
  'sizes/128k+1.bin': 128 * KiB + 1,
  'sizes/16m+1.bin': 16 * MiB + 1,
  'deep/a/b/c/note.txt': 100,
  'expiring/e1.bin': 24 * MiB + 3,
  'faulty/f1.bin': 20 * MiB + 5,
};
const BIG = 'video/big-300MB.bin';
const BIG_SIZE = 300 * MiB;
const MANY = 10_000;

describe.runIf(run)('mount and read (issue 3)', () => {
  const mounts = withMount();
  let seed: string;
  let emu: EmulatorHandle;
  let d: Daemon;
  const sums = new Map<string, string>();

  beforeAll(async () => {
    seed = await mounts.tempDir('seed');
    for (const [rel, size] of Object.entries(FILES)) {
      await mkdir(join(seed, rel, '..'), { recursive: true });
      const data = ramp(size, rel.length);
      await writeFile(join(seed, rel), data);
      sums.set(rel, createHash('sha256').update(data).digest('hex'));
    }
    await mkdir(join(seed, 'video'), { recursive: true });
    await sh(`head -c ${BIG_SIZE} /dev/urandom > ${join(seed, BIG)}`);
    sums.set(BIG, (await execFileP('sha256sum', [join(seed, BIG)])).stdout.split(' ')[0]!);
    await mkdir(join(seed, 'many'), { recursive: true });
    await sh(`cd ${join(seed, 'many')} && for i in $(seq -w 1 ${MANY}); do echo $i > f$i.txt; done`);
    emu = await mounts.emulator({ seedDir: seed });
    d = await mounts.daemon({ apiBase: emu.baseUrl });
  }, 300_000);

  it('ls -l, stat, find and du see the tree with the right sizes', async () => {
    const { stdout: found } = await sh(
      `cd ${d.mountpoint} && find . -path ./many -prune -o -type f -printf '%P %s\\n' | sort`,
    );
    const expected = [...Object.entries(FILES), [BIG, BIG_SIZE] as const].map(([p, s]) => `${p} ${s}`).sort();
    expect(found.trim().split('\n')).toEqual(expected);
    const { stdout: st } = await sh(`stat -c '%F %s' ${d.mountpoint}/sizes/16m+1.bin ${d.mountpoint}/deep/a`);
    expect(st.trim().split('\n')).toEqual([`regular file ${16 * MiB + 1}`, expect.stringMatching(/^directory /)]);
    const { stdout: ls } = await sh(`ls -l ${d.mountpoint}/sizes`);
    expect(ls).toMatch(/-rw-r--r-- .* 131071 .*128k-1\.bin/);
    const { stdout: du } = await sh(`du -sb --apparent-size ${d.mountpoint}/sizes`);
    expect(Number(du.split('\t')[0])).toBeGreaterThanOrEqual(3 * 128 * KiB + 16 * MiB + 1);
  });

  it('reads every small and odd-sized file byte-exact', async () => {
    const rels = Object.keys(FILES).filter((f) => !f.startsWith('expiring') && !f.startsWith('faulty'));
    const got = await sha256s(rels.map((rel) => join(d.mountpoint, rel)));
    for (const [i, rel] of rels.entries()) expect(got[i], rel).toBe(sums.get(rel));
  });

  it('streams the 300 MB file byte-exact', async () => {
    const { stdout } = await execFileP('sha256sum', [join(d.mountpoint, BIG)], { timeout: 120_000 });
    expect(stdout.split(' ')[0]).toBe(sums.get(BIG));
  });

  it('answers reads with views (read_views); the older copying answer is byte-exact too', async () => {
    expect(d.output()).toMatch(/"read_views"/); // the mount options line (a libfuse 3 source build)
    const old = await mounts.daemon({ apiBase: emu.baseUrl, env: { PAN123FS_READ_VIEWS: '0' } });
    try {
      expect(old.output()).toMatch(/"options":\[/);
      expect(old.output()).not.toMatch(/"read_views"/);
      const { stdout } = await execFileP('sha256sum', [join(old.mountpoint, BIG)], { timeout: 120_000 });
      expect(stdout.split(' ')[0]).toBe(sums.get(BIG));
    } finally {
      await old.stop();
    }
  }, 180_000);

  it('random reads at many offsets match the source', async () => {
    const script = `
      const fs = require('fs');
      const [a, b, n] = process.argv.slice(1);
      const fa = fs.openSync(a, 'r'), fb = fs.openSync(b, 'r');
      const size = fs.fstatSync(fb).size;
      let seed = 12345, bad = 0;
      const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      for (let i = 0; i < Number(n); i++) {
        const len = 1 + Math.floor(rnd() * 300000), off = Math.floor(rnd() * size);
        const x = Buffer.alloc(len), y = Buffer.alloc(len);
        const nx = fs.readSync(fa, x, 0, len, off), ny = fs.readSync(fb, y, 0, len, off);
        if (nx !== ny || !x.subarray(0, nx).equals(y.subarray(0, ny))) bad++;
      }
      console.log(bad);`;
    const { stdout } = await execFileP(
      process.execPath,
      ['-e', script, join(d.mountpoint, BIG), join(seed, BIG), '300'],
      { timeout: 120_000 },
    );
    expect(stdout.trim()).toBe('0');
  });

  it('8 concurrent readers get the same bytes', async () => {
    const target = join(d.mountpoint, 'sizes/16m+1.bin');
    const outs = await Promise.all(Array.from({ length: 8 }, () => execFileP('sha256sum', [target])));
    for (const o of outs) expect(o.stdout.split(' ')[0]).toBe(sums.get('sizes/16m+1.bin'));
  });

  it('lists a 10,000-entry directory completely', async () => {
    const { stdout } = await sh(
      `ls ${d.mountpoint}/many | wc -l; ls ${d.mountpoint}/many | sort | head -1; ` +
        `ls ${d.mountpoint}/many | sort | tail -1`,
    );
    expect(stdout.trim().split('\n')).toEqual([String(MANY), 'f00001.txt', `f${MANY}.txt`]);
  });

  it('download links that expire mid-read are refreshed', async () => {
    emu.setConfig({ linkTtlSec: 1 });
    try {
      // read slowly so the link dies between requests: 1 MiB every 150 ms
      const { stdout } = await sh(
        `(for i in $(seq 0 23); do dd if=${d.mountpoint}/expiring/e1.bin bs=1M skip=$i count=1 status=none; ` +
          `sleep 0.15; done; dd if=${d.mountpoint}/expiring/e1.bin bs=1M skip=24 status=none) | sha256sum`,
      );
      expect(stdout.split(' ')[0]).toBe(sums.get('expiring/e1.bin'));
    } finally {
      emu.setConfig({ linkTtlSec: 7200 });
    }
  });

  it('429 bursts and injected 500s slow reads down but never corrupt or fail them', async () => {
    emu.setFaults([
      { match: 'cdn_download', kind: 'http500', probability: 0.3 },
      { match: 'download_info', kind: 'code', code: 429, count: 3 },
      { match: 'cdn_download', kind: 'reset', afterBytes: 100_000, count: 2 },
    ]);
    try {
      const { stdout } = await execFileP('sha256sum', [join(d.mountpoint, 'faulty/f1.bin')], { timeout: 120_000 });
      expect(stdout.split(' ')[0]).toBe(sums.get('faulty/f1.bin'));
      expect(emu.counters().faultsApplied).toBeGreaterThan(0);
    } finally {
      emu.setFaults([]);
    }
  });

  it('after a restart, known directories are listed from the store without calling the API', async () => {
    await sh(`ls -R ${d.mountpoint}/deep ${d.mountpoint}/sizes > /dev/null`);
    const code = await d.stop();
    expect(code).toBe(0);
    emu.resetCounters();
    d = await mounts.restart(d);
    const { stdout } = await sh(`ls -R ${d.mountpoint}/deep ${d.mountpoint}/sizes`);
    expect(stdout).toContain('note.txt');
    expect(stdout).toContain('128k+1.bin');
    const c = emu.counters();
    expect(c.requests.file_list ?? 0).toBe(0);
    expect(c.tokensIssued).toBe(0); // the saved token was reused
  });

  it('the mount point is gone after SIGTERM', async () => {
    const code = await d.stop();
    expect(code).toBe(0);
    const mounts = await readFile('/proc/mounts', 'utf8');
    expect(mounts).not.toContain(d.mountpoint);
  });
});
