// Issue 14 item 4 end to end: server-side copy through copy_file_range on a real FUSE mount (daemon in a
// subprocess) against the emulator. `cp` of an uploaded file inside the mount must make no download and
// no slice upload (emulator counters) and give a byte-exact copy (sha256, emulator MD5); everything the
// server cannot copy (a file still uploading, a partial range, a destination with data) falls back to the
// kernel's read/write copy, byte-exact too; a sparse 5 GiB file arrives as several copy_file_range calls.
// The mount is touched only by child processes.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import {
  BIN,
  type Daemon,
  execFileP,
  fuseAvailable,
  live,
  ramp,
  sh,
  sha256,
  withMount,
} from '../helpers/pan-daemon.js';

const run = fuseAvailable();
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SLICE = 4 * MiB;
const HUGE = 5 * GiB;

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** a loopback port nobody listens on right now */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** python's os.copy_file_range, run in a child: (src, dst, count, offset_src, offset_dst) → bytes copied */
function pyCopyRange(src: string, dst: string, count: number, offSrc: number, offDst: number): Promise<string> {
  const py =
    'import os,sys\n' +
    's=os.open(sys.argv[1],os.O_RDONLY);d=os.open(sys.argv[2],os.O_WRONLY|os.O_CREAT)\n' +
    'print(os.copy_file_range(s,d,int(sys.argv[3]),int(sys.argv[4]),int(sys.argv[5])))\n' +
    'os.close(s);os.close(d)';
  return sh(`python3 -c '${py}' ${src} ${dst} ${count} ${offSrc} ${offDst}`).then((r) => r.stdout.trim());
}

describe.runIf(run)('server-side copy through copy_file_range (issue 14 item 4)', () => {
  const mounts = withMount();
  let seed: string;
  let emuDir: string;
  let emu: EmulatorHandle;
  let d: Daemon;
  let dav: string;
  const big = ramp(24 * MiB + 777, 41);

  beforeAll(async () => {
    seed = await mounts.tempDir('copy-seed');
    await mkdir(join(seed, 'src'), { recursive: true });
    await writeFile(join(seed, 'src', 'big.bin'), big);
    await sh(`truncate -s ${HUGE} ${join(seed, 'src', 'huge.bin')}`); // sparse: no disk blocks
    emuDir = await mounts.tempDir('copy-emu');
    emu = await mounts.emulator({ dataDir: emuDir, sliceSize: SLICE, seedDir: seed });
    const port = await freePort();
    dav = `http://127.0.0.1:${port}`;
    d = await mounts.daemon({ apiBase: emu.baseUrl, args: ['--webdav', `127.0.0.1:${port}`] });
  }, 300_000);

  beforeEach(() => {
    emu.setConfig({ instantUpload: 1, copyNameClash: 0 });
  });

  it('cp of an uploaded file copies on the server: no download, no slice; ls, mv and rm work at once', async () => {
    const m = d.mountpoint;
    emu.resetCounters();
    await sh(`cp ${m}/src/big.bin ${m}/src/copy.bin`);
    const c = emu.counters();
    expect(c.bytesServed).toBe(0);
    expect(c.sliceBytesReceived).toBe(0);
    expect(c.singleUploadBytes).toBe(0);
    expect(c.instantUploadHits).toBe(1);
    expect(live(emu).get('/src/copy.bin')).toMatchObject({ md5: md5(big), size: big.length });
    // a normal node at once: listed with its size, nothing queued for upload
    const { stdout } = await sh(`stat -c %s ${m}/src/copy.bin && ls ${m}/src`);
    expect(stdout.split('\n')[0]).toBe(String(big.length));
    expect(stdout).toContain('copy.bin');
    expect((await d.status()).uploads.totals.files).toBe(0);
    await sh(`mv ${m}/src/copy.bin ${m}/renamed.bin`);
    expect(live(emu).get('/renamed.bin')).toMatchObject({ md5: md5(big) });
    expect(live(emu).has('/src/copy.bin')).toBe(false);
    expect(await sha256(`${m}/renamed.bin`)).toBe(sha(big)); // byte-exact (this read downloads)
    await sh(`rm ${m}/renamed.bin`);
    expect(live(emu).has('/renamed.bin')).toBe(false);
    expect(d.output()).toContain('copied on the server');
  });

  it('cp over an existing file replaces it on the server', async () => {
    const m = d.mountpoint;
    await writeFile(join(seed, 'small.txt'), 'old content\n');
    await sh(`cp ${join(seed, 'small.txt')} ${m}/over.bin`);
    await d.uploadsSettled();
    emu.resetCounters();
    await sh(`cp ${m}/src/big.bin ${m}/over.bin`);
    expect(emu.counters()).toMatchObject({ bytesServed: 0, sliceBytesReceived: 0, instantUploadHits: 1 });
    expect(live(emu).get('/over.bin')).toMatchObject({ md5: md5(big), size: big.length });
    expect((await sh(`stat -c %s ${m}/over.bin`)).stdout.trim()).toBe(String(big.length));
  });

  it('without instant upload, file/copy makes the copy and renames it', async () => {
    const m = d.mountpoint;
    emu.setConfig({ instantUpload: 0, copyNameClash: 1 });
    emu.resetCounters();
    await sh(`cp ${m}/src/big.bin ${m}/src/via-copy.bin`);
    const c = emu.counters();
    expect(c).toMatchObject({ bytesServed: 0, sliceBytesReceived: 0, copies: 1 });
    expect(live(emu).get('/src/via-copy.bin')).toMatchObject({ md5: md5(big) });
    expect([...live(emu).keys()].filter((p) => p.startsWith('/src/big(')).length).toBe(0); // renamed, not left
  });

  it('when neither server way works, the kernel copies through read/write (byte-exact)', async () => {
    const m = d.mountpoint;
    emu.setConfig({ instantUpload: 0, copyNameClash: 0 }); // file/copy into the same folder clashes
    emu.resetCounters();
    await sh(`cp ${m}/src/big.bin ${m}/src/kernel.bin`);
    expect(emu.counters().bytesServed).toBeGreaterThanOrEqual(big.length);
    expect(await sha256(`${m}/src/kernel.bin`)).toBe(sha(big));
    await d.uploadsSettled();
    expect(live(emu).get('/src/kernel.bin')).toMatchObject({ md5: md5(big) });
  });

  it('a copy of a file still being uploaded falls back and is byte-exact', async () => {
    const m = d.mountpoint;
    const fresh = ramp(9 * MiB + 5, 99);
    await writeFile(join(seed, 'fresh.bin'), fresh);
    // slices are held back, so fresh.bin is still local when it is copied
    emu.setFaults([{ match: '/upload/v2/file/slice', kind: 'delay', ms: 1500 }]);
    try {
      await sh(`cp ${join(seed, 'fresh.bin')} ${m}/fresh.bin && cp ${m}/fresh.bin ${m}/fresh2.bin`);
      expect(await sha256(`${m}/fresh2.bin`)).toBe(sha(fresh));
      expect(d.output()).toContain('the source is not uploaded yet');
    } finally {
      emu.setFaults([]);
    }
    await d.uploadsSettled(120_000);
    expect(live(emu).get('/fresh.bin')).toMatchObject({ md5: md5(fresh) });
    expect(live(emu).get('/fresh2.bin')).toMatchObject({ md5: md5(fresh) });
  });

  it('a partial range and a destination with data fall back (byte-exact)', async () => {
    const m = d.mountpoint;
    emu.resetCounters();
    expect(await pyCopyRange(`${m}/src/big.bin`, `${m}/part.bin`, 1000, 0, 0)).toBe('1000');
    expect(await sha256(`${m}/part.bin`)).toBe(sha(big.subarray(0, 1000)));
    await sh(`printf 'HEAD' > ${m}/withdata.bin`);
    expect(await pyCopyRange(`${m}/src/big.bin`, `${m}/withdata.bin`, big.length, 0, 4)).toBe(String(big.length));
    expect(await sha256(`${m}/withdata.bin`)).toBe(sha(Buffer.concat([Buffer.from('HEAD'), big])));
    expect(emu.counters().instantUploadHits).toBe(0); // nothing was copied on the server
    await d.uploadsSettled();
    expect(live(emu).get('/part.bin')).toMatchObject({ md5: md5(big.subarray(0, 1000)) });
  });

  it('mount --webdav serves the same tree alongside the FUSE mount; status shows the URL (issue 17)', async () => {
    const m = d.mountpoint;
    const viaDav = ramp(300_000, 5);
    await writeFile(join(seed, 'dav-in.bin'), viaDav);
    await sh(`curl -sf -T ${join(seed, 'dav-in.bin')} ${dav}/dav-in.bin`);
    expect(await sha256(`${m}/dav-in.bin`)).toBe(sha(viaDav)); // a PUT shows in the mount at once
    await sh(`printf 'through fuse' > ${m}/fuse-out.txt`);
    expect((await sh(`curl -sf ${dav}/fuse-out.txt`)).stdout).toBe('through fuse');
    const { stdout } = await execFileP(process.execPath, [BIN, 'status', m, '--state-dir', d.stateDir]);
    expect(stdout).toContain(`webdav    ${dav}/ (no auth)`);
    expect((await d.status()).webdav).toMatchObject({ url: dav, auth: false });
    await d.uploadsSettled();
    expect(live(emu).get('/dav-in.bin')).toMatchObject({ md5: md5(viaDav) });
  });

  it('WebDAV COPY of an uploaded file is a server-side copy; the mount shows it at once', async () => {
    const m = d.mountpoint;
    emu.resetCounters();
    await sh(`curl -sf -X COPY -H 'Destination: ${dav}/src/dav-copy.bin' ${dav}/src/big.bin`);
    expect(emu.counters()).toMatchObject({ bytesServed: 0, sliceBytesReceived: 0, instantUploadHits: 1 });
    expect(live(emu).get('/src/dav-copy.bin')).toMatchObject({ md5: md5(big), size: big.length });
    expect((await sh(`stat -c %s ${m}/src/dav-copy.bin`)).stdout.trim()).toBe(String(big.length));
    // a file just PUT (local content, not uploaded yet) is streamed instead, byte-exact
    const fresh = ramp(200_000, 8);
    await writeFile(join(seed, 'dav-fresh.bin'), fresh);
    emu.resetCounters();
    await sh(
      `curl -sf -T ${join(seed, 'dav-fresh.bin')} ${dav}/dav-fresh.bin && ` +
        `curl -sf -X COPY -H 'Destination: ${dav}/dav-fresh-copy.bin' ${dav}/dav-fresh.bin`,
    );
    expect(await sha256(`${m}/dav-fresh-copy.bin`)).toBe(sha(fresh));
  });

  it('a sparse 5 GiB file: several copy_file_range calls, one server copy, sane disk use', async () => {
    const m = d.mountpoint;
    const before = (await d.status()).fuseRequests as { ops: Record<string, number> };
    emu.resetCounters();
    await sh(`cp ${m}/src/huge.bin ${m}/huge-copy.bin`, { timeoutMs: 120_000 });
    const after = (await d.status()).fuseRequests as { ops: Record<string, number> };
    expect(emu.counters()).toMatchObject({ bytesServed: 0, sliceBytesReceived: 0, instantUploadHits: 1 });
    expect((after.ops.copy_file_range ?? 0) - (before.ops.copy_file_range ?? 0)).toBeGreaterThanOrEqual(2);
    const src = live(emu).get('/src/huge.bin')!;
    expect(live(emu).get('/huge-copy.bin')).toMatchObject({ md5: src.md5, size: HUGE });
    expect((await sh(`stat -c %s ${m}/huge-copy.bin`)).stdout.trim()).toBe(String(HUGE));
    // the emulator stores the blob once (sparse, hard-linked from the seed): far below 5 GiB on disk
    const du = Number((await sh(`du -sk ${emuDir}`)).stdout.split('\t')[0]);
    expect(du).toBeLessThan(256 * 1024);
  }, 180_000);
});
