// `npm run demo` end to end (smaller samples to stay fast): it builds, starts the emulator with sample
// files, mounts them, says what to try, and unmounts cleanly on Ctrl-C (SIGINT).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, cleanup, forceUnmount, fuseAvailable, sh, tempDir } from '../helpers/pan-daemon.js';

describe.runIf(fuseAvailable())('npm run demo', () => {
  it('mounts the sample tree, prints what to try, and unmounts on Ctrl-C', async () => {
    const dir = await tempDir('demo');
    const mnt = join(dir, 'mnt');
    const p = spawn('bash', [join(ROOT, 'scripts', 'demo.sh')], {
      env: { ...process.env, PAN123_DEMO_DIR: dir, PAN123_DEMO_VIDEO_MB: '8', PAN123_DEMO_MANY: '300' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`demo not ready:\n${out}`)), 240_000);
        const check = () => {
          if (out.includes('Press Ctrl-C')) {
            clearTimeout(t);
            resolve();
          }
        };
        p.stdout.on('data', check);
        void exited.then(() => reject(new Error(`demo exited early:\n${out}`)));
      });
      expect(out).toContain(`mounted at\n      ${mnt}`);
      const { stdout } = await sh(
        `ls ${mnt}; cat ${mnt}/README.txt; ls ${mnt}/many-files | wc -l; ls ${mnt}/pictures | wc -l`,
      );
      expect(stdout).toContain('videos');
      expect(stdout).toContain('Welcome to the pan123fs demo');
      expect(stdout).toMatch(/\n300\n6\n$/);
      p.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toContain('unmounted and stopped the emulator');
      expect(await readFile('/proc/mounts', 'utf8')).not.toContain(mnt);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
      await forceUnmount(mnt);
      await cleanup(dir);
    }
  }, 300_000);
});
