// Change polling (issue 16, --poll-interval): another client changes the account through the emulator's own
// 123 Open API (the same HTTP API, its own token) while a mount with the default 60 s attribute timeout and
// 5 min dir-cache-time is up. Within about one poll interval, without `pan123fs refresh`, `ls`, `stat` and
// `cat` on the mount show the new state; a file open before the change keeps reading the version it opened;
// and over a run the polls stay within their fifth of the list QPS (emulator counters), while a foreground
// listing still goes at once. The mount is driven by child processes only.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, type EmulatorHandle } from '../../src/emulator/index.js';
import { ENDPOINTS, type QpsTier } from '../../src/pan/endpoints.js';
import { HttpPanClient } from '../../src/pan/http-pan-client.js';
import { BACKGROUND_SHARE } from '../../src/pan/rate-limiter.js';
import { uploadFile } from '../../src/write/upload-flow.js';
import { BIN, fuseAvailable, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';
import { until } from '../support/gate.js';

const run = fuseAvailable();
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const INTERVAL_MS = 1000;

const wait = { timeoutMs: 30_000, everyMs: 50 };

/** durationMs of every foreground listing of `path` in the daemon's debug log (Tree: 'listed directory'). */
function foregroundListingsMs(log: string, path: string): number[] {
  const ms: number[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('"listed directory"')) continue;
    try {
      const o = JSON.parse(line) as { path?: string; background?: boolean; durationMs?: number };
      if (o.path === path && o.background === false && typeof o.durationMs === 'number') ms.push(o.durationMs);
    } catch {}
  }
  return ms;
}

describe.runIf(run)('change polling (--poll-interval)', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let d: Daemon;
  let other: HttpPanClient;
  const live = (path: string) => emu.tree().find((e) => e.path === path && !e.trashed);
  const put = async (parentId: string, name: string, body: string, duplicate?: 2) => {
    const data = Buffer.from(body);
    return uploadFile(other, {
      parentId,
      name,
      size: data.length,
      md5: md5(data),
      logger: silentLogger,
      clock: systemClock,
      singleMaxBytes: 0,
      duplicate,
      source: { read: async (off, len) => Buffer.from(data.subarray(off, off + len)) },
    });
  };

  beforeAll(async () => {
    const src = await mounts.seed({
      'dir/f.txt': 'old content\n',
      'dir/g.txt': 'to be removed\n',
      'dir/h.txt': 'to be renamed\n',
      'dir/v.txt': 'version one of v\n',
      'sub/m.txt': 'to be moved\n',
      'kept/p.txt': 'pinned, version one\n',
      'solo/q.txt': 'a pinned file, version one\n',
    });
    emu = await mounts.emulator();
    await emu.seed(src);
    d = await mounts.daemon({ apiBase: emu.baseUrl, args: ['--poll-interval', `${INTERVAL_MS}ms`] });
    other = new HttpPanClient({
      apiBase: emu.baseUrl,
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      stateDir: await mounts.tempDir('poll-other'),
      rateLimitScale: 0,
    });
  }, 120_000);

  afterAll(async () => {
    await other?.close(); // before withMount's hook (later afterAll hooks run first) closes the emulator
  });

  it('a file added, renamed, changed, moved and deleted by another client shows without refresh', async () => {
    const m = d.mountpoint;
    const gone = "stat dir/g.txt 2>&1 | grep -c 'No such' || true";
    const view = `cd ${m} && ls dir sub; stat -c '%n %s' dir/f.txt; cat dir/f.txt; ${gone}`;
    // the mount has it all in its caches: kernel attributes and pages (60 s), listings (5 min)
    expect((await sh(view)).stdout).toBe(
      'dir:\nf.txt\ng.txt\nh.txt\nv.txt\n\nsub:\nm.txt\ndir/f.txt 12\nold content\n0\n',
    );

    const dirId = live('/dir')!.id;
    const fresh = 'new content, longer than before\n';
    await put(dirId, 'new.txt', 'brand new\n');
    await other.rename(live('/dir/h.txt')!.id, 'renamed.txt');
    await put(dirId, 'f.txt', fresh, 2); // an overwrite: a new file id, the old one trashed
    await other.trash([live('/dir/g.txt')!.id]);
    await other.move([live('/sub/m.txt')!.id], dirId);
    const t0 = Date.now();

    const want = `dir:\nf.txt\nm.txt\nnew.txt\nrenamed.txt\nv.txt\n\nsub:\ndir/f.txt ${fresh.length}\n${fresh}1\n`;
    await until(async () => (await sh(view)).stdout === want, 'the mount to show the remote changes', wait);
    const visibleMs = Date.now() - t0;
    console.log(`remote changes visible after ${visibleMs} ms (poll interval ${INTERVAL_MS} ms)`);
    expect(visibleMs).toBeLessThan(4 * INTERVAL_MS + 2000);
    const moved = await sh(
      `cat ${m}/dir/m.txt ${m}/dir/renamed.txt ${m}/dir/new.txt; stat ${m}/sub/m.txt 2>&1 || true`,
    );
    expect(moved.stdout).toMatch(/^to be moved\nto be renamed\nbrand new\n.*No such file or directory/s);
  });

  it('a file open before a remote change keeps reading the version it opened', async () => {
    const p = join(d.mountpoint, 'dir', 'v.txt');
    // a reader that opened v.txt, read it, and re-reads the same descriptor from the start on request
    const py = [
      'import sys, hashlib, os',
      `fd = os.open(${JSON.stringify(p)}, os.O_RDONLY)`,
      'def whole():',
      '    os.lseek(fd, 0, 0); out = b""',
      '    while True:',
      '        b = os.read(fd, 65536)',
      '        if not b: return out',
      '        out += b',
      'print(whole().decode(), end="", flush=True)',
      'sys.stdin.readline()',
      'print(whole().decode(), end="", flush=True)',
    ].join('\n');
    const { spawn } = await import('node:child_process');
    const child = spawn('python3', ['-c', py], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    await until(() => out === 'version one of v\n', 'the reader to read v.txt', wait);

    const v2 = 'version two of v, which is longer\n';
    await put(live('/dir')!.id, 'v.txt', v2, 2);
    // a new open sees the new version once a poll found it (the old handle is still open)
    await until(async () => (await sh(`cat ${p}`)).stdout === v2, 'a new open to read the new version', wait);
    child.stdin.end('\n');
    expect(await exited).toBe(0);
    // the old descriptor still reads the version it opened (within the size the kernel now knows: it is longer)
    expect(out).toBe('version one of v\nversion one of v\n');
    expect((await sh(`cat ${p}`)).stdout).toBe(v2);
  });

  it('a pinned file changed by another client is fetched again at the next poll', async () => {
    const kept = join(d.mountpoint, 'kept');
    const cli = (cmd: string) => sh(`${process.execPath} ${BIN} ${cmd} --state-dir ${d.stateDir}`);
    await cli(`pin ${kept}`);
    const v2 = 'pinned, version two, which is longer\n';
    await put(live('/kept')!.id, 'p.txt', v2, 2); // a new file id in the pinned folder
    const entry = await until(
      async () => {
        const entries = JSON.parse((await cli(`cache ${kept} --json`)).stdout) as {
          path: string;
          size: number;
          cachedBytes: number;
          pinned: boolean;
        }[];
        const e = entries.find((x) => x.path === '/kept/p.txt');
        return e && e.size === v2.length && e.cachedBytes >= v2.length && e;
      },
      'the new version to be cached',
      wait,
    );
    expect(entry.pinned).toBe(true);
    // nobody read it through the mount: the poll's listing fetched it
    expect(d.output()).toMatch(/fetched the new version of a pinned file/);
  });

  it('a pin on a single file follows it when another client overwrites it', async () => {
    const q = join(d.mountpoint, 'solo', 'q.txt');
    const cli = (cmd: string) => sh(`${process.execPath} ${BIN} ${cmd} --state-dir ${d.stateDir}`);
    await sh(`ls ${join(d.mountpoint, 'solo')}`); // the folder in use: polled
    await cli(`pin ${q}`);
    const v2 = 'a pinned file, version two, longer\n';
    await put(live('/solo')!.id, 'q.txt', v2, 2); // a new file id: the pinned node is gone remotely
    const entry = await until(
      async () => {
        const e = (
          JSON.parse((await cli(`cache ${q} --json`)).stdout) as {
            size: number;
            cachedBytes: number;
            pinned: boolean;
          }[]
        )[0];
        return e && e.size === v2.length && e.pinned && e.cachedBytes >= v2.length && e;
      },
      'the new file to be pinned and cached',
      wait,
    );
    expect(entry.pinned).toBe(true);
  });

  it('polls stay within a fifth of the list QPS, and a foreground listing still goes at once', async () => {
    const m = d.mountpoint;
    // ten more folders in use: at a 1 s interval they would want ~12 listings per second, more than the share
    for (let i = 0; i < 10; i++) await other.mkdir('0', `busy${i}`);
    await until(async () => (await sh(`ls ${m}`)).stdout.includes('busy9'), 'the new folders to show', wait);
    await sh(`for i in 0 1 2 3 4 5 6 7 8 9; do ls ${m}/busy$i > /dev/null; done`);
    const tier = ((await d.status()).rateTier ?? 'free') as QpsTier;
    const share = ENDPOINTS.listV2.qps[tier] * BACKGROUND_SHARE;
    // the loop above listed busy3 (a new folder) in the foreground: its line first, so it is not taken for the next
    const before = await until(() => foregroundListingsMs(d.output(), '/busy3').length || false, 'busy3 listed', wait);
    emu.resetCounters();
    const t0 = Date.now();
    // a foreground listing while the polls use their whole share: a refresh drops it, `ls` lists again
    await sh(`${process.execPath} ${BIN} refresh ${join(m, 'busy3')} --state-dir ${d.stateDir}`);
    await sh(`ls ${m}/busy3`);
    // the daemon's own measure of that listing (request to merge, the limiter's wait included); its log line
    // comes through a pipe from pino's async stream, so it may arrive just after `ls` returned
    const foregroundMs = await until(
      () => foregroundListingsMs(d.output(), '/busy3')[before],
      'the log line of the new foreground listing of /busy3',
      wait,
    );
    await new Promise((r) => setTimeout(r, 12_000)); // the measurement window
    const lists = emu.counters().requests.file_list ?? 0;
    const seconds = (Date.now() - t0) / 1000;
    const rate = lists / seconds;
    console.log(
      `${lists} list calls in ${seconds.toFixed(1)} s = ${rate.toFixed(2)}/s (${tier} tier: ` +
        `${ENDPOINTS.listV2.qps[tier]}/s x ${BACKGROUND_SHARE} = ${share}/s; one of them foreground); ` +
        `foreground ls ${foregroundMs} ms`,
    );
    expect(rate).toBeLessThanOrEqual(share * 1.15);
    expect(rate).toBeGreaterThan(share * 0.6); // it does poll, at its share
    expect(foregroundMs).toBeLessThan(1000);
    const st = await d.status();
    expect(st.polling?.intervalMs).toBe(INTERVAL_MS);
    const polled = st.polling!.folders.map((f) => f.path);
    for (const p of ['/', '/dir', '/busy0', '/busy9']) expect(polled).toContain(p);
    for (const f of st.polling!.folders) expect(f.listedAt).not.toBeNull();
  }, 60_000);
});
