// Issue 18: the launchd agent (macOS, untested on a Mac) is staged by scripts/install-launchd.sh with
// every placeholder filled, as a plist that parses, running this checkout's pan123fs with the config.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');

describe('install-launchd.sh (staged)', () => {
  let dest = '';
  afterAll(async () => {
    if (dest) await rm(dest, { recursive: true, force: true });
  });

  it('writes a valid agent plist for the named config and runs no launchctl', async () => {
    dest = await mkdtemp(join(tmpdir(), 'pan123fs-launchd-'));
    const env = { ...process.env, DESTDIR: dest, HOME: '/Users/u 1', NODE: '/opt/node/bin/node' };
    const { stdout } = await run('bash', [join(ROOT, 'scripts', 'install-launchd.sh'), 'home'], { env });
    expect(stdout).toContain('staged only');
    const plist = join(dest, 'Users/u 1/Library/LaunchAgents/com.pan123fs.mount.home.plist');
    const text = await readFile(plist, 'utf8');
    expect(text).not.toMatch(/@[A-Z]+@/);
    const { stdout: parsed } = await run('python3', [
      '-c',
      'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))',
      plist,
    ]);
    const p = JSON.parse(parsed) as { Label: string; ProgramArguments: string[]; KeepAlive: object };
    expect(p.Label).toBe('com.pan123fs.mount.home');
    expect(p.ProgramArguments).toEqual([
      '/opt/node/bin/node',
      join(ROOT, 'bin', 'pan123fs.js'),
      'mount',
      '--config',
      '/Users/u 1/Library/Application Support/pan123fs/home.json',
    ]);
    expect(p.KeepAlive).toEqual({ SuccessfulExit: false, NetworkState: true });
  });

  it('refuses a name that could escape the agents folder', async () => {
    await expect(
      run('bash', [join(ROOT, 'scripts', 'install-launchd.sh'), '../x'], {
        env: { ...process.env, DESTDIR: '/tmp/x' },
      }),
    ).rejects.toMatchObject({ code: 2 });
  });
});
