// `pan123fs doctor`: each check with fakes (what fails, and that the fix is printed), then one run of
// the real dependencies against the emulator on loopback (credentials, root folder, direct links).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkAllowOther,
  checkCacheSpace,
  checkFusermount,
  checkLibfuse,
  checkMountpoint,
  checkBinding,
  checkDevFuse,
  formatChecks,
  realDoctorDeps,
  runDoctor,
  type DoctorDeps,
} from '../../../src/cli/doctor.js';
import type { MountConfig } from '../../../src/config/resolve.js';
import { startEmulator, type EmulatorHandle } from '../../../src/emulator/index.js';
import { darwinPlatform, MACFUSE_BUNDLE } from '../../../src/platform/darwin.js';
import type { PlatformIo } from '../../../src/platform/types.js';

const GiB = 1024 ** 3;

function fakeDeps(over: Partial<DoctorDeps> = {}): DoctorDeps {
  return {
    uid: 1000,
    path: '/usr/bin',
    access: async (p) => p === '/dev/fuse' || p === '/usr/bin/fusermount' || p === '/',
    fileMode: async () => 0o104755,
    readText: async () => undefined,
    run: async () => 'libfuse3.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfuse3.so.3\n',
    binding: () => ({
      kind: 'source',
      file: '/x/fuse.node',
      nativePatched: true,
      jsPatched: true,
      openCacheFlags: true,
      readViews: true,
      libfuse: 314,
    }),
    freeBytes: async () => 100 * GiB,
    mountState: async () => 'empty',
    pan: () => {
      throw new Error('no pan in this test');
    },
    ...over,
  };
}

const cfg = (over: Partial<MountConfig> = {}): MountConfig => ({
  apiBase: 'http://x',
  clientId: 'id',
  clientSecret: 'secret',
  rootFolderId: '0',
  readOnly: false,
  allowOther: false,
  uid: 1000,
  gid: 1000,
  umask: 0o22,
  dirCacheTimeMs: 1,
  attrTimeoutMs: 1,
  cacheDir: '/cache/pan',
  stateDir: '/state',
  cacheMaxSize: 10 * GiB,
  memCacheSize: 1,
  readAheadMax: 1,
  directLink: false,
  uploadConcurrency: 1,
  sliceConcurrency: 1,
  drainTimeoutMs: 1,
  rateLimitScale: 0,
  logLevel: 'info',
  mountpoint: '/mnt/x',
  ...over,
});

describe('doctor checks (fakes)', () => {
  it('fusermount: missing, not setuid for a user, fine for root', async () => {
    expect((await checkFusermount(fakeDeps({ access: async () => false }))).status).toBe('fail');
    const notSuid = await checkFusermount(fakeDeps({ fileMode: async () => 0o100755 }));
    expect(notSuid).toMatchObject({ status: 'fail', fix: expect.stringContaining('chmod u+s') });
    expect((await checkFusermount(fakeDeps({ uid: 0, fileMode: async () => 0o100755 }))).status).toBe('ok');
  });

  it('libfuse: from ldconfig, else from a loaded libfuse 3 binding, else a fix', async () => {
    expect((await checkLibfuse(fakeDeps(), undefined)).status).toBe('ok');
    expect((await checkLibfuse(fakeDeps({ run: async () => '' }), 314)).status).toBe('ok');
    const libfuse2Only = 'libfuse.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfuse.so.2\n';
    expect((await checkLibfuse(fakeDeps({ run: async () => libfuse2Only }), 29)).status).toBe('fail');
    expect(await checkLibfuse(fakeDeps({ run: async () => undefined }), undefined)).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('libfuse3'),
    });
  });

  it('binding: unpatched is a warning, unloadable a failure', () => {
    expect(
      checkBinding(
        fakeDeps({
          binding: () => ({
            kind: 'prebuilt',
            file: 'f',
            nativePatched: false,
            jsPatched: false,
            openCacheFlags: false,
            readViews: false,
            libfuse: 29,
          }),
        }),
      ).result.status,
    ).toBe('warn');
    expect(checkBinding(fakeDeps()).result.status).toBe('ok');
    const r = checkBinding(
      fakeDeps({
        binding: () => {
          throw new Error('libfuse.so.2: cannot open shared object file');
        },
      }),
    );
    expect(r).toMatchObject({ loaded: false, result: { status: 'fail' } });
  });

  it('allow_other: needs user_allow_other for a non-root user', async () => {
    expect((await checkAllowOther(fakeDeps(), cfg())).status).toBe('skip');
    expect(await checkAllowOther(fakeDeps(), cfg({ allowOther: true }))).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('user_allow_other'),
    });
    expect(
      (await checkAllowOther(fakeDeps({ readText: async () => '# x\nuser_allow_other\n' }), cfg({ allowOther: true })))
        .status,
    ).toBe('ok');
    expect((await checkAllowOther(fakeDeps({ uid: 0 }), cfg({ allowOther: true }))).status).toBe('ok');
  });

  it('mountpoint: stale is a failure with the cleanup command', async () => {
    expect(await checkMountpoint(fakeDeps({ mountState: async () => 'stale' }), cfg())).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('cleanup-mount'),
    });
    expect((await checkMountpoint(fakeDeps({ mountState: async () => 'not-empty' }), cfg())).status).toBe('fail');
  });

  it(
    'cache dir: statfs on the nearest existing parent; too little space fails, ' + 'less than the limit warns',
    async () => {
      let asked = '';
      const r = await checkCacheSpace(
        fakeDeps({
          freeBytes: async (p) => {
            asked = p;
            return 100 * 1024 ** 2;
          },
        }),
        cfg(),
      );
      expect(asked).toBe('/');
      expect(r).toMatchObject({ status: 'fail', fix: expect.stringContaining('--cache-dir') });
      expect((await checkCacheSpace(fakeDeps({ freeBytes: async () => 5 * GiB }), cfg())).status).toBe('warn');
      expect((await checkCacheSpace(fakeDeps(), cfg())).status).toBe('ok');
    },
  );

  it('a config error is reported as a failed check, local checks still run', async () => {
    const rs = await runDoctor({}, { PAN123_CLIENT_ID: '' }, fakeDeps());
    expect(rs[0]).toMatchObject({ name: 'config', status: 'fail', detail: expect.stringContaining('no client ID') });
    expect(rs.map((r) => r.name)).toContain('/dev/fuse');
    expect(formatChecks(rs)).toMatch(/\[FAIL\] config[\s\S]*fix: pan123fs config check[\s\S]*1 check\(s\) failed/);
  });
});

describe('doctor against the emulator', () => {
  let emu: EmulatorHandle;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pan123fs-doctor-'));
    await writeFile(join(dir, 'secret'), 'pan123fs-demo-secret', { mode: 0o600 });
    emu = await startEmulator({ rateLimitScale: 0 });
    await mkdir(join(dir, 'seed', 'dl'), { recursive: true });
    await writeFile(join(dir, 'seed', 'dl', 'a.bin'), 'some bytes');
    await emu.seed(join(dir, 'seed'), '/');
  });
  afterAll(async () => {
    await emu?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const flags = (over: Record<string, unknown> = {}) => ({
    apiBase: emu.baseUrl,
    clientId: 'pan123fs-demo',
    clientSecretFile: join(dir, 'secret'),
    cacheDir: join(dir, 'cache'),
    stateDir: join(dir, 'state'),
    mountpoint: join(dir, 'mnt'),
    ...over,
  });
  const localOk = (d: DoctorDeps): DoctorDeps => ({
    ...d,
    binding: () => ({ kind: 'source', file: 'f', nativePatched: true, jsPatched: true }),
  });

  it('accepts good credentials, reuses the token file, and explains the root folder', async () => {
    const rs = await runDoctor(flags(), {}, localOk(realDoctorDeps()));
    const by = Object.fromEntries(rs.map((r) => [r.name, r]));
    expect(by.credentials).toMatchObject({ status: 'ok', detail: expect.stringContaining('pan123fs-emulator') });
    expect(by['mount root']).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('direct links cannot be used at the root'),
    });
    const before = emu.counters().tokensIssued;
    await runDoctor(flags(), {}, localOk(realDoctorDeps()));
    expect(emu.counters().tokensIssued).toBe(before); // the persisted token was reused
  });

  it('a wrong secret fails the credentials check with a fix', async () => {
    await writeFile(join(dir, 'bad'), 'wrong-secret', { mode: 0o600 });
    const rs = await runDoctor(
      flags({ clientSecretFile: join(dir, 'bad'), stateDir: join(dir, 'state2') }),
      {},
      localOk(realDoctorDeps()),
    );
    expect(rs.find((r) => r.name === 'credentials')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('client secret'),
    });
  });

  it('shows the developer rights: days left, a warning from 14 days before the end, a failure after it', async () => {
    const check = async () =>
      (await runDoctor(flags(), {}, localOk(realDoctorDeps()))).find((r) => r.name === 'developer rights');
    try {
      expect(await check()).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(/^365 days left \(until \d{4}-\d\d-\d\d\); rate tier developer/),
      });
      emu.setConfig({ developerDays: 10 });
      expect(await check()).toMatchObject({
        status: 'warn',
        detail: expect.stringContaining('10 days left'),
        fix: expect.stringContaining('开发者权益包'),
      });
      emu.setConfig({ developerDays: -1 });
      const rs = await runDoctor(flags(), {}, localOk(realDoctorDeps()));
      expect(rs.find((r) => r.name === 'credentials')).toMatchObject({ status: 'fail' });
      expect(rs.find((r) => r.name === 'developer rights')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('have expired'),
        fix: expect.stringContaining('123pan.com/developer'),
      });
    } finally {
      emu.setConfig({ developerDays: 365 });
    }
  });

  it('direct links: a folder without 直链空间 fails when --direct-link is on, works once enabled', async () => {
    const folder = emu.tree().find((e) => e.path === '/dl');
    const id = String(folder!.id);
    const off = await runDoctor(flags({ rootFolderId: id, directLink: true }), {}, localOk(realDoctorDeps()));
    expect(off.find((r) => r.name === 'mount root')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('直链空间'),
    });
    emu.enableDirectLink(folder!.path);
    const on = await runDoctor(flags({ rootFolderId: id, directLink: true }), {}, localOk(realDoctorDeps()));
    expect(on.find((r) => r.name === 'mount root')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('direct links work'),
    });
  });
  // last: its mints revoke every token the tests before it saved
  it('a token revoked by another client within its first minute: said so, with a fix, no new token', async () => {
    const f = flags({ stateDir: join(dir, 'state-revoked') });
    await runDoctor(f, {}, localOk(realDoctorDeps())); // a token saved just now
    const mint = () =>
      fetch(`${emu.baseUrl}/api/v1/access_token`, {
        method: 'POST',
        headers: { Platform: 'open_platform', 'Content-Type': 'application/json' },
        body: JSON.stringify({ clientID: 'pan123fs-demo', clientSecret: 'pan123fs-demo-secret' }),
      });
    await Promise.all([mint(), mint(), mint()]); // another tool: the saved token is revoked
    const before = emu.counters().tokensIssued;
    const rs = await runDoctor(f, {}, localOk(realDoctorDeps()));
    expect(rs.find((r) => r.name === 'credentials')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('revoked by another client sharing the client ID'),
      fix: expect.stringContaining('another tool or machine uses client ID pan123fs-demo'),
    });
    expect(emu.counters().tokensIssued).toBe(before);
  });
});

describe('doctor on macOS (injected platform; untested on a Mac)', () => {
  const io = (present: string[]): PlatformIo => ({
    exec: async () => ({ code: 0, stdout: '', stderr: '' }),
    readFile: async () => '',
    writeFile: async () => undefined,
    exists: async (p) => present.includes(p),
    env: {},
    homedir: '/Users/u',
    uid: 501,
  });
  it('checks macFUSE instead of /dev/fuse, with the install step when missing', async () => {
    const missing = await checkDevFuse(fakeDeps({ platform: darwinPlatform(io([])) }));
    expect(missing).toMatchObject({ name: 'macFUSE', status: 'fail' });
    expect(missing.fix).toContain('brew install --cask macfuse');
    const ok = await checkDevFuse(fakeDeps({ platform: darwinPlatform(io([MACFUSE_BUNDLE])) }));
    expect(ok).toMatchObject({ name: 'macFUSE', status: 'ok' });
  });
});
