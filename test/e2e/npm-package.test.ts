// Issue 18: the npm package installs and runs. `npm pack` (prepack builds dist/), then
// `npm install -g --prefix TMP` of the tarball (its postinstall builds the FUSE addon from source), then
// the INSTALLED pan123fs: --version, a mount of the emulator read byte-exact, and install-service staged
// into a directory. The tarball must hold what the program needs and nothing of the test tree.
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/index.js';
import {
  cleanup,
  execFileP,
  fuseAvailable,
  ramp,
  ROOT,
  sha256,
  startDaemon,
  tempDir,
  type Daemon,
} from '../helpers/pan-daemon.js';

const run = fuseAvailable();

describe.runIf(run)('npm package (issue 18)', () => {
  let work: string;
  let tarball: string;
  let prefix: string;
  let installed: string;
  let files: string[];

  beforeAll(async () => {
    work = await tempDir('pack');
    const { stdout } = await execFileP('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: ROOT,
      maxBuffer: 16 << 20,
    });
    const info = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = join(work, info[0]!.filename);
    files = info[0]!.files.map((f) => f.path);
    prefix = join(work, 'prefix');
    await execFileP(
      'npm',
      ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
      { cwd: work, maxBuffer: 64 << 20, timeout: 540_000 },
    );
    installed = join(prefix, 'lib', 'node_modules', 'pan123fs');
  }, 600_000);

  afterAll(async () => {
    await cleanup(work);
  });

  it('the tarball holds dist/, the patch, the build script and the units, and no tests or sources', () => {
    for (const need of [
      'bin/pan123fs.js',
      'dist/main.js',
      'dist/fuse/mount.js',
      'scripts/build-fuse-native.mjs',
      'scripts/macfuse-env.mjs',
      'scripts/install-systemd.sh',
      'systemd/pan123fs@.service',
      'README.md',
      'package.json',
    ])
      expect(files).toContain(need);
    expect(files.some((f) => f.startsWith('patches/'))).toBe(true);
    expect(files.filter((f) => /^(test|src|bench)\//.test(f) || f.endsWith('.map'))).toEqual([]);
  });

  it('the installed binary prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await execFileP(join(prefix, 'bin', 'pan123fs'), ['--version']);
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('the installed binary mounts the emulator and reads byte-exact (its own FUSE addon)', async () => {
    const seed = await tempDir('pack-seed');
    const data = ramp(3 * 1024 * 1024 + 17, 5);
    await mkdir(join(seed, 'dir'), { recursive: true });
    await writeFile(join(seed, 'dir', 'file.bin'), data);
    let emu: EmulatorHandle | undefined;
    let d: Daemon | undefined;
    try {
      emu = await startEmulator({ dataDir: await tempDir('pack-emu'), seedDir: seed, rateLimitScale: 0 });
      d = await startDaemon({ apiBase: emu.baseUrl, bin: join(installed, 'bin', 'pan123fs.js') });
      expect(await sha256(join(d.mountpoint, 'dir', 'file.bin'))).toBe(createHash('sha256').update(data).digest('hex'));
      // the daemon loaded the addon built by the installed package's postinstall, not the checkout's
      const { stdout } = await execFileP('sh', ['-c', `grep -c fuse.node /proc/${d.proc.pid}/maps || true`]);
      expect(Number(stdout.trim())).toBeGreaterThan(0);
      const maps = await readFile(`/proc/${d.proc.pid}/maps`, 'utf8');
      const addon = maps.split('\n').find((l) => l.includes('fuse.node'));
      expect(addon).toContain(installed);
    } finally {
      await d?.stop();
      await emu?.close();
      await cleanup(seed);
    }
  });

  it('install-service from the installed package stages the units and a wrapper pointing at it', async () => {
    const dest = join(work, 'stage');
    await execFileP(join(prefix, 'bin', 'pan123fs'), ['install-service', '--dest', dest]);
    const wrapper = await readFile(join(dest, 'usr', 'local', 'bin', 'pan123fs'), 'utf8');
    expect(wrapper).toContain(join(installed, 'bin', 'pan123fs.js'));
    const unit = await readFile(join(dest, 'etc', 'systemd', 'system', 'pan123fs@.service'), 'utf8');
    expect(unit).toContain('/usr/local/bin/pan123fs');
  });
});
