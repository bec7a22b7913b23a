// Issue 5 end to end: the daemon started the way the systemd unit starts it (`mount --config FILE`,
// NOTIFY_SOCKET set), against the emulator in this process, through a real FUSE mount. Covers readiness
// only once the mount answers, the SIGTERM upload drain, stale-mount cleanup after a SIGKILL, `status`
// during an upload, refusing a world-readable secret, the fstab helper, and a debug log free of secrets.
// The mount is touched only by child processes (see test/helpers/pan-daemon.ts for why).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import {
  BIN,
  ROOT,
  cleanup,
  execFileP,
  forceUnmount,
  fuseAvailable,
  ramp,
  sh,
  tempDir,
} from '../helpers/pan-daemon.js';
import { startNotifySocket, type NotifySocket } from '../helpers/notify-socket.js';
import { until } from '../support/gate.js';

const run = fuseAvailable();
const MiB = 1024 * 1024;
const CLIENT_ID = 'svc-client';
const SECRET = `svc-secret-${createHash('sha256').update(String(process.pid)).digest('hex').slice(0, 20)}`;
const DL_KEY = 'svc-direct-link-key-1234';
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function mountedNow(mnt: string): boolean {
  // procfs, not the mount: safe to read synchronously from this process
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mnt);
}

/** pids whose parent is `ppid` (from /proc/<pid>/stat) */
async function childrenOf(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === ppid) out.push(Number(name));
  }
  return out;
}

interface Unit {
  proc: ChildProcess;
  out(): string;
  exited: Promise<number | null>;
}

/**
 * As ExecStart= does: `pan123fs mount --config FILE`, in its own process group (so a "crash" can take the
 * auto_unmount helper along).
 */
function startUnit(config: string, env: Record<string, string> = {}): Unit {
  const proc = spawn(process.execPath, [BIN, 'mount', '--config', config], {
    env: { ...process.env, PAN123_CLIENT_SECRET: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out: () => out, exited };
}

async function stopUnit(u: Unit, mnt: string): Promise<void> {
  if (u.proc.exitCode === null && u.proc.signalCode === null) {
    u.proc.kill('SIGTERM');
    const r = await Promise.race([u.exited, new Promise((res) => setTimeout(() => res('timeout'), 60_000))]);
    if (r === 'timeout') {
      try {
        process.kill(-u.proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await u.exited;
    }
  }
  await forceUnmount(mnt);
}

async function waitReadyLine(u: Unit): Promise<void> {
  await until(
    () => {
      if (u.proc.exitCode !== null) throw new Error(`daemon exited ${u.proc.exitCode}:\n${u.out().slice(-3000)}`);
      return u.out().includes('(ready)');
    },
    'the (ready) line',
    { timeoutMs: 30_000, everyMs: 100 },
  );
}

describe.runIf(run)('service (issue 5)', () => {
  let emu: EmulatorHandle;
  let base: string;
  const dirs: string[] = [];
  const mounts: string[] = [];
  const units: Unit[] = [];

  /** A fresh mountpoint/cache/state and a 0600 config file for it. */
  async function makeConfig(
    extra: Record<string, unknown> = {},
  ): Promise<{ config: string; mnt: string; stateDir: string; cacheDir: string }> {
    const d = await tempDir('svc');
    dirs.push(d);
    const mnt = join(d, 'mnt');
    await mkdir(mnt);
    mounts.push(mnt);
    const cfg = {
      mountpoint: mnt,
      apiBase: emu.baseUrl,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      cacheDir: join(d, 'cache'),
      stateDir: join(d, 'state'),
      rateLimitScale: 0,
      logLevel: 'debug',
      ...extra,
    };
    const config = join(d, 'svc.json');
    await writeFile(config, JSON.stringify(cfg, null, 2), { mode: 0o600 });
    return { config, mnt, stateDir: cfg.stateDir, cacheDir: cfg.cacheDir };
  }

  function unit(config: string, env: Record<string, string> = {}): Unit {
    const u = startUnit(config, env);
    units.push(u);
    return u;
  }

  beforeAll(async () => {
    base = await tempDir('svc-base');
    await mkdir(join(base, 'seed', 'public'), { recursive: true });
    await writeFile(join(base, 'seed', 'hello.txt'), ramp(300_000, 3));
    await writeFile(join(base, 'seed', 'public', 'pub.bin'), ramp(200_000, 5));
    emu = await startEmulator({
      dataDir: join(base, 'emu'),
      seedDir: join(base, 'seed'),
      rateLimitScale: 0,
      sliceSize: MiB,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      directLinkKey: DL_KEY,
    });
    emu.enableDirectLink('/public');
  }, 60_000);

  afterAll(async () => {
    for (const u of units)
      if (u.proc.exitCode === null && u.proc.signalCode === null) {
        try {
          process.kill(-u.proc.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    for (const m of mounts) await forceUnmount(m);
    await emu?.close();
    await cleanup(base, ...dirs);
  });

  it('signals READY=1 over NOTIFY_SOCKET only once the mount answers', async () => {
    const { config, mnt } = await makeConfig();
    const sock: NotifySocket = await startNotifySocket(dirs.at(-1)!);
    try {
      let mountedAtReady: boolean | undefined;
      const ready = sock.waitFor('READY=1').then((m) => {
        mountedAtReady ??= mountedNow(mnt);
        return m;
      });
      const u = unit(config, { NOTIFY_SOCKET: sock.path });
      const msg = await ready;
      expect(mountedAtReady).toBe(true);
      expect(msg).toContain(`MAINPID=${u.proc.pid}`);
      const { stdout } = await sh(`ls ${mnt}`);
      expect(stdout.split('\n')).toContain('hello.txt');
      expect(sock.messages[0]).toContain('READY=1'); // the first thing the daemon said
      await stopUnit(u, mnt);
      expect(await u.exited).toBe(0);
      await sock.waitFor('STOPPING=1', 5000);
    } finally {
      sock.close();
    }
  });

  it('`status` (and --json) shows a running upload; SIGTERM finishes it, then unmounts', async () => {
    const { config, mnt, stateDir } = await makeConfig({ sliceConcurrency: 1 });
    const u = unit(config);
    await waitReadyLine(u);
    const data = ramp(6 * MiB + 12345, 9);
    await writeFile(join(dirs.at(-1)!, 'big.bin'), data);
    // 7 slices of 1 MiB one at a time, 1 s each: a ~7 s window for the three status calls on a loaded box
    emu.setFaults([{ match: '/upload/v2/file/slice', kind: 'delay', ms: 1000 }]);
    try {
      await sh(`cp ${join(dirs.at(-1)!, 'big.bin')} ${mnt}/big.bin`);
      type Item = { name: string; size: number; sentBytes: number; state: string };
      const item = await until(
        async () => {
          const { stdout } = await execFileP(process.execPath, [BIN, 'status', '--json', '--state-dir', stateDir, mnt]);
          const it = (JSON.parse(stdout) as { uploads: { items: Item[] } }).uploads.items.find(
            (i) => i.name === 'big.bin',
          );
          return it?.state === 'uploading' && it.sentBytes > 0 && it;
        },
        'status to show the upload with bytes sent',
        { timeoutMs: 30_000, everyMs: 100 },
      );
      expect(item.size).toBe(data.length);
      expect(item.sentBytes).toBeLessThan(data.length);
      const human = (await execFileP(process.execPath, [BIN, 'status', '--state-dir', stateDir])).stdout;
      expect(human).toMatch(/uploading\s+\[#*-*\]\s+\d+%.*big\.bin/);
      expect(emu.tree().some((e) => e.path === '/big.bin' && !e.trashed)).toBe(false); // still pending
      u.proc.kill('SIGTERM');
      expect(await u.exited).toBe(0);
      expect(emu.tree().find((e) => e.path === '/big.bin' && !e.trashed)?.md5).toBe(md5(data));
      expect(mountedNow(mnt)).toBe(false);
      expect(u.out()).toMatch(/draining uploads/);
    } finally {
      emu.setFaults([]);
      await stopUnit(u, mnt);
    }
  });

  it('clears the stale mount of a SIGKILLed daemon on the next start (and with cleanup-mount)', async () => {
    const { config, mnt } = await makeConfig();
    const crash = async () => {
      const u = unit(config);
      await waitReadyLine(u);
      // the auto_unmount fusermount helper (its own session, our daemon's child) would tidy up: kill it too
      const helpers = await childrenOf(u.proc.pid!);
      expect(helpers.length).toBeGreaterThan(0);
      process.kill(-u.proc.pid!, 'SIGKILL');
      for (const pid of helpers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await u.exited;
      const st = await execFileP('stat', [mnt]).then(
        () => 'ok',
        (e: { stderr: string }) => e.stderr,
      );
      expect(st).toContain('Transport endpoint is not connected');
    };
    await crash();
    const again = unit(config);
    await waitReadyLine(again);
    expect((await sh(`ls ${mnt}`)).stdout).toContain('hello.txt');
    expect(again.out()).toContain('cleared a stale mount');
    await stopUnit(again, mnt);

    await crash();
    const { stdout } = await execFileP(process.execPath, [BIN, 'cleanup-mount', '--config', config]);
    expect(stdout).toContain(`cleared a stale mount at ${mnt}`);
    expect(mountedNow(mnt)).toBe(false);
    await execFileP('stat', [mnt]); // a plain directory again
  });

  it('refuses a config file that holds a secret and is readable by others, saying why', async () => {
    const { config, mnt } = await makeConfig();
    await chmod(config, 0o644);
    const u = unit(config);
    expect(await u.exited).toBe(2);
    expect(u.out()).toContain(
      `config file ${config} is readable by other users (mode 644) and holds a secret: run \`chmod 600 ${config}\``,
    );
    expect(mountedNow(mnt)).toBe(false);
    const check = await execFileP(process.execPath, [BIN, 'config', 'check', '--config', config]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(check?.code).toBe(2);
    expect(check?.stderr).toContain('readable by other users');
  });

  it('mount.fuse.pan123fs mounts from a config name/path and returns once mounted', async () => {
    const { config, mnt } = await makeConfig();
    const log = join(dirs.at(-1)!, 'helper.log');
    await execFileP('bash', [join(ROOT, 'scripts', 'mount.fuse.pan123fs'), config, mnt, '-o', 'rw,nodev,_netdev'], {
      env: { ...process.env, PAN123FS_BIN: `${process.execPath} ${BIN}`, PAN123FS_LOG: log },
      timeout: 60_000,
    });
    try {
      expect(mountedNow(mnt)).toBe(true);
      expect((await sh(`ls ${mnt}`)).stdout).toContain('hello.txt');
    } finally {
      const pid = Number((await readFile(log, 'utf8')).match(/"pid":(\d+)/)?.[1]);
      if (pid) process.kill(pid, 'SIGTERM');
      await until(() => !mountedNow(mnt), 'the helper-started daemon to unmount', { timeoutMs: 30_000 }).catch(
        () => undefined,
      );
      await forceUnmount(mnt);
    }
  });

  it('a debug log of a full run holds no client secret, access token, auth_key or signed CDN path', async () => {
    const { config, mnt, stateDir } = await makeConfig();
    const u = unit(config);
    await waitReadyLine(u);
    const data = ramp(2 * MiB + 7, 11);
    const local = join(dirs.at(-1)!, 'w.bin');
    await writeFile(local, data);
    await sh(`ls -la ${mnt} >/dev/null && cat ${mnt}/hello.txt >/dev/null && cp ${local} ${mnt}/w.bin`);
    await until(() => emu.tree().some((e) => e.path === '/w.bin' && e.md5 === md5(data)), 'w.bin uploaded', {
      timeoutMs: 60_000,
      everyMs: 100,
    });
    await sh(`mv ${mnt}/w.bin ${mnt}/w2.bin && cmp ${mnt}/w2.bin ${local} && rm ${mnt}/w2.bin`);
    await execFileP(process.execPath, [BIN, 'status', '--state-dir', stateDir, mnt]);
    await stopUnit(u, mnt);

    // a second, direct-link mount (signed with auth_key) of the /public folder
    const pub = emu.tree().find((e) => e.path === '/public')!;
    const dl = await makeConfig({ rootFolderId: String(pub.id), directLink: true, directLinkKey: DL_KEY, stateDir });
    const u2 = unit(dl.config);
    await waitReadyLine(u2);
    await sh(`cat ${dl.mnt}/pub.bin > /dev/null`);
    await stopUnit(u2, dl.mnt);
    expect(emu.counters().directLinkBytesServed).toBeGreaterThan(0);

    const tokenFile = (await readdir(stateDir)).find((f) => f.startsWith('token-'))!;
    const token = (JSON.parse(await readFile(join(stateDir, tokenFile), 'utf8')) as { accessToken: string })
      .accessToken;
    expect(token.length).toBeGreaterThan(10);
    for (const [name, log] of [
      ['full run', u.out()],
      ['direct-link run', u2.out()],
    ] as const) {
      expect(log.length, name).toBeGreaterThan(1000);
      expect(log, name).toContain('"level":20'); // it really is a debug log
      expect(log.includes(SECRET), `${name}: client secret`).toBe(false);
      expect(log.includes(token), `${name}: access token`).toBe(false);
      expect(log.includes(DL_KEY), `${name}: direct-link key`).toBe(false);
      expect(log, name).not.toMatch(/auth_key=(?!\[REDACTED\])/);
      expect(log, name).not.toMatch(/\/cdn\/[^\s"]*[?&](e|s)=/);
      expect(log, name).not.toMatch(/[?&]s=[0-9a-f]{16,}/);
    }
  });
});
