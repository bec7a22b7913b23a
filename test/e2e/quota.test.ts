// Quota exceeded → ENOSPC (issue 4): the write is staged locally, the upload is refused by the server
// for lack of space, and fsync reports ENOSPC; the file stays visible locally and is not lost, and a stop
// does not wait for it.
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { fuseAvailable, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';

describe.runIf(fuseAvailable())('storage quota', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let d: Daemon;
  beforeAll(async () => {
    emu = await mounts.emulator({ spacePermanent: 1024 * 1024 });
    d = await mounts.daemon({ apiBase: emu.baseUrl });
  });

  it('fsync of a file larger than the free space fails with ENOSPC; the data stays local', async () => {
    const r = await sh(`dd if=/dev/urandom of=${d.mountpoint}/big.bin bs=1M count=2 conv=fsync 2>&1; echo "exit=$?"`);
    expect(r.stdout).toMatch(/No space left on device/);
    expect(r.stdout).toMatch(/exit=1/);
    const { stdout } = await sh(`stat -c %s ${d.mountpoint}/big.bin`);
    expect(stdout.trim()).toBe(String(2 * 1024 * 1024));
    // never live remotely. (dd's dup2+close sends a FLUSH right after create, which queues the empty file;
    // the first write supersedes that upload, and if its merge was already asked for, the stale empty
    // copy is followed to its end and trashed - a real server would finish that merge anyway.)
    expect(emu.tree().filter((e) => e.name === 'big.bin' && !e.trashed)).toEqual([]);
    for (const e of emu.tree().filter((x) => x.name === 'big.bin')) expect(e.size).toBe(0);
    const st = await sh(
      `node ${process.cwd()}/bin/pan123fs.js status --json --state-dir ${d.stateDir} ${d.mountpoint}`,
    );
    const items = JSON.parse(st.stdout).uploads.items as Array<{ name: string; lastError: string | null }>;
    expect(items.find((i) => i.name === 'big.bin')?.lastError).toMatch(/空间不足|space/i);
    // a stop does not wait out the drain timeout (10 min) for an upload only freed space could let through:
    // the helper's SIGTERM gives it 60 s before SIGKILL (exit code null); the file stays journaled
    expect(await d.stop()).toBe(0);
    expect(d.output()).toMatch(/uploads left in the journal/);
    // and that stop line names the file and why it is left
    const lines = d.output().split('\n');
    const stopLine = lines.find((l) => l.includes('uploads left in the journal'));
    expect(stopLine).toMatch(/big\.bin/);
    expect(stopLine).toMatch(/空间不足|space/i);
  });
});
