// Kernel cache invalidation (issue 14): mount A keeps attributes and entries for 300 s and its listings for
// 5 minutes, so a change made through mount B (another pan123fs on the same account, i.e. a remote change
// for A) stays invisible on A - until `pan123fs refresh`, which drops A's listing and invalidates the
// kernel's cached attributes and pages, so stat and cat show the new state at once. Both mounts are driven
// by child processes only.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, fuseAvailable, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';
import { until } from '../support/gate.js';

const run = fuseAvailable();
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe.runIf(run)('kernel cache invalidation on pan123fs refresh', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let a: Daemon;
  let b: Daemon;
  const live = (path: string) => emu.tree().find((e) => e.path === path && !e.trashed);

  beforeAll(async () => {
    const src = await mounts.seed({ 'dir/f.txt': 'old content\n', 'dir/g.txt': 'to be removed\n' });
    emu = await mounts.emulator();
    await emu.seed(src);
    const long = ['--attr-timeout', '300s', '--dir-cache-time', '5m'];
    a = await mounts.daemon({ apiBase: emu.baseUrl, args: long });
    b = await mounts.daemon({ apiBase: emu.baseUrl });
  }, 120_000);

  it('after a remote change, stat and cat on the long-timeout mount show it right after refresh', async () => {
    const fa = join(a.mountpoint, 'dir/f.txt');
    const ga = join(a.mountpoint, 'dir/g.txt');
    expect((await sh(`cat ${fa}; stat -c %s ${fa} ${ga}`)).stdout).toBe('old content\n12\n14\n');

    const fresh = 'new content, longer than before\n';
    await sh(`printf '${fresh}' > ${join(b.mountpoint, 'dir/f.txt')} && rm ${join(b.mountpoint, 'dir/g.txt')}`);
    await until(() => live('/dir/f.txt')?.md5 === md5(fresh), 'the new f.txt to be uploaded', {
      timeoutMs: 60_000,
      everyMs: 50,
    });
    await until(() => live('/dir/g.txt') === undefined, 'g.txt to be removed', { timeoutMs: 60_000, everyMs: 50 });

    // A still serves its cached view (kernel attributes for 300 s, its listing for 5 minutes) ...
    expect((await sh(`stat -c %s ${fa}; cat ${fa}`)).stdout).toBe('12\nold content\n');
    // ... until refresh, which must also clear what the kernel holds
    const r = await sh(`${process.execPath} ${BIN} refresh ${join(a.mountpoint, 'dir')} --state-dir ${a.stateDir}`);
    expect(r.stdout).toMatch(/refreshed 1 director/);
    expect((await sh(`stat -c %s ${fa}; cat ${fa}`)).stdout).toBe(`${fresh.length}\n${fresh}`);
    const gone = await sh(`stat ${ga} 2>&1 || true`);
    expect(gone.stdout).toMatch(/No such file or directory/);
    expect((await sh(`ls ${join(a.mountpoint, 'dir')}`)).stdout).toBe('f.txt\n');
  });
});
