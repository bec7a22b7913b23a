// The systemd units pass `systemd-analyze verify` (on temp copies whose ExecStart points at an existing
// executable), keep the settings the daemon relies on (notify readiness, SIGTERM drain window, stale
// mount cleanup, /dev/fuse), and carry no option that would hide the FUSE mount in a private mount
// namespace. scripts/install-systemd.sh stages the same files idempotently.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionByKey } from '../../../src/config/options.js';
import { parseDuration } from '../../../src/config/parse.js';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const SYSTEM = readFileSync(join(ROOT, 'systemd', 'pan123fs@.service'), 'utf8');
const USER = readFileSync(join(ROOT, 'systemd', 'pan123fs-user@.service'), 'utf8');
const haveAnalyze = (() => {
  try {
    return existsSync('/usr/bin/systemd-analyze') || existsSync('/bin/systemd-analyze');
  } catch {
    return false;
  }
})();

/** Service-section settings, last value wins, `Key=` lists collected. */
function settings(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('[')) continue;
    const i = line.indexOf('=');
    const k = line.slice(0, i);
    m.set(k, [...(m.get(k) ?? []), line.slice(i + 1)]);
  }
  return m;
}

/** systemd time span ("11min", "90s", "1h") in ms */
function span(v: string): number {
  const m = /^(\d+)\s*(min|s|h|ms)?$/.exec(v.trim());
  if (!m) throw new Error(`cannot parse ${v}`);
  return Number(m[1]) * ({ ms: 1, s: 1000, min: 60_000, h: 3_600_000 } as Record<string, number>)[m[2] ?? 's']!;
}

// Each of these sets up a private mount namespace: the FUSE mount would be invisible to the host.
const NAMESPACE_OPTIONS = [
  'ProtectSystem',
  'ProtectHome',
  'PrivateTmp',
  'PrivateDevices',
  'PrivateMounts',
  'ReadWritePaths',
  'ReadOnlyPaths',
  'InaccessiblePaths',
  'TemporaryFileSystem',
  'BindPaths',
  'BindReadOnlyPaths',
  'ProtectKernelTunables',
  'ProtectKernelModules',
  'ProtectKernelLogs',
  'ProtectControlGroups',
  'ProtectHostname',
  'ProtectProc',
  'ProcSubset',
  'MountFlags',
  'RootDirectory',
  'RootImage',
  'DynamicUser',
  'PrivateUsers',
  'MountAPIVFS',
  'ProtectClock',
];

describe.each([
  ['system', SYSTEM],
  ['user', USER],
])('%s unit', (_kind, unit) => {
  const s = settings(unit);
  const one = (k: string) => s.get(k)?.at(-1);

  it('is Type=notify with NotifyAccess=all (readiness comes from systemd-notify --pid)', () => {
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('all');
  });

  it('stops with SIGTERM to the daemon only and waits longer than the upload drain', () => {
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('KillMode')).toBe('mixed');
    const drain = parseDuration(String(optionByKey('drainTimeout').default));
    const stop = span(one('TimeoutStopSec')!);
    expect(stop).toBeGreaterThan(drain);
    expect(stop - drain).toBeLessThanOrEqual(5 * 60_000); // and not absurdly longer
  });

  it('restarts on failure but not on a configuration error (exit 2)', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('2');
  });

  it('clears a stale mount before starting and after stopping', () => {
    expect(one('ExecStartPre')).toMatch(/pan123fs cleanup-mount --config /);
    expect(one('ExecStopPost')).toMatch(/^-\S*pan123fs cleanup-mount --config /);
    expect(one('ExecStart')).toMatch(/pan123fs mount --config \S+%i\.json$/);
  });

  it('has no option that creates a private mount namespace', () => {
    for (const k of NAMESPACE_OPTIONS) expect(s.has(k), k).toBe(false);
  });
});

describe('system unit hardening', () => {
  const s = settings(SYSTEM);
  it('allows /dev/fuse and mount(2), nothing else privileged', () => {
    expect(s.get('DeviceAllow')).toEqual(['/dev/fuse rw']);
    expect(s.get('DevicePolicy')).toEqual(['closed']);
    expect(s.get('CapabilityBoundingSet')).toEqual(['CAP_SYS_ADMIN']);
    expect(s.get('SystemCallFilter')?.join(' ')).toContain('@mount');
    expect(s.get('NoNewPrivileges')).toEqual(['yes']);
    expect(s.get('MemoryDenyWriteExecute')).toBeUndefined(); // V8's JIT
  });
  it('reads /etc/pan123fs/%i.json and keeps state in /var/lib/pan123fs', () => {
    expect(s.get('ExecStart')![0]).toContain('/etc/pan123fs/%i.json');
    expect(s.get('StateDirectory')).toEqual(['pan123fs']);
    expect(s.get('CacheDirectory')).toEqual(['pan123fs']);
  });
});

describe('user unit', () => {
  it('keeps setuid fusermount usable (no NoNewPrivileges) and reads the XDG config dir', () => {
    const s = settings(USER);
    expect(s.has('NoNewPrivileges')).toBe(false);
    expect(s.get('ExecStart')![0]).toContain('%E/pan123fs/%i.json');
  });
});

describe.runIf(haveAnalyze)('systemd-analyze verify', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pan123fs-units-'));
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'pan123fs'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(dir, 'bin', 'pan123fs'), 0o755);
    for (const sub of ['system', 'user', 'broken', 'run']) mkdirSync(join(dir, sub), { mode: 0o700 });
    const fix = (u: string) => u.replaceAll('/usr/local/bin/pan123fs', join(dir, 'bin', 'pan123fs'));
    writeFileSync(join(dir, 'system', 'pan123fs@.service'), fix(SYSTEM));
    writeFileSync(join(dir, 'user', 'pan123fs@.service'), fix(USER));
    writeFileSync(
      join(dir, 'broken', 'pan123fs@.service'),
      fix(SYSTEM).replace('[Service]', '[Service]\nNotAKey=1\nExecStartPre=/nonexistent/x'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const verify = (sub: string, user = false) =>
    run('systemd-analyze', [...(user ? ['--user'] : []), 'verify', './pan123fs@demo.service'], {
      cwd: join(dir, sub),
      env: { ...process.env, XDG_RUNTIME_DIR: join(dir, 'run'), SYSTEMD_LOG_COLOR: '0' },
    }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  it('passes on the system template unit, without warnings', async () => {
    expect(await verify('system')).toEqual({ code: 0, stderr: '' });
  });
  it('passes on the user template unit, without warnings', async () => {
    expect(await verify('user', true)).toEqual({ code: 0, stderr: '' });
  });
  it('(control) fails on a broken copy, so a pass means something', async () => {
    const r = await verify('broken');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('NotAKey');
  });
});

describe('scripts/install-systemd.sh (staged with DESTDIR)', () => {
  let dest: string;
  beforeAll(() => {
    dest = mkdtempSync(join(tmpdir(), 'pan123fs-install-'));
  });
  afterAll(() => rmSync(dest, { recursive: true, force: true }));
  const install = () =>
    run('bash', [join(ROOT, 'scripts', 'install-systemd.sh')], { env: { ...process.env, DESTDIR: dest } });

  it('installs the wrapper, units, fstab helper and 0700 dirs, prints next steps, and is idempotent', async () => {
    if (!existsSync(join(ROOT, 'dist', 'main.js'))) return; // needs npm run build
    const first = await install();
    expect(first.stdout).toContain('Next steps');
    const wrapper = readFileSync(join(dest, 'usr/local/bin/pan123fs'), 'utf8');
    expect(wrapper).toContain(`"${join(ROOT, 'bin', 'pan123fs.js')}"`);
    expect(wrapper).toMatch(/exec "\/\S+node\S*"/);
    expect(readFileSync(join(dest, 'etc/systemd/system/pan123fs@.service'), 'utf8')).toBe(SYSTEM);
    expect(readFileSync(join(dest, 'etc/systemd/user/pan123fs@.service'), 'utf8')).toBe(USER);
    expect(statSync(join(dest, 'sbin/mount.fuse.pan123fs')).mode & 0o777).toBe(0o755);
    for (const d of ['etc/pan123fs', 'var/lib/pan123fs', 'var/cache/pan123fs'])
      expect(statSync(join(dest, d)).mode & 0o777).toBe(0o700);
    expect(statSync(join(dest, 'etc/pan123fs/example.json.sample')).mode & 0o777).toBe(0o600);
    const second = await install();
    expect(second.stdout).not.toContain('installed  ');
    expect(second.stdout).toContain('unchanged  /etc/systemd/system/pan123fs@.service');
  });
});
