// The developer rights package (开发者权益包, issue 15) end to end, through a real mount of the emulator:
// 10 days left → a warning at start, `status` shows the days left and the rate tier; the rights end
// mid-session → a mkdir fails with EACCES (not EIO), the log says once that the rights expired, `status`
// says so; renewed → calls work again. A start with the rights expired ends with one line that says so.
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, execFileP, fuseAvailable, sh, withMount, type Daemon } from '../helpers/pan-daemon.js';
import { until } from '../support/gate.js';

/** Resolves once the daemon's output matches (pino writes asynchronously: the line may trail stdout). */
async function logged(d: Daemon, re: RegExp, timeoutMs = 10_000): Promise<void> {
  await until(() => re.test(d.output()), `a log line ${re}`, { timeoutMs, everyMs: 50 }).catch((e: Error) => {
    throw new Error(`${e.message}\n${d.output().slice(-3000)}`);
  });
}

describe.runIf(fuseAvailable())('developer rights (issue 15)', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let d: Daemon | undefined;
  beforeAll(async () => {
    emu = await mounts.emulator({ developerDays: 10 });
  });

  it('warns at start, shows the days left; after expiry EACCES and one log line; renewal heals', async () => {
    d = await mounts.daemon({ apiBase: emu.baseUrl });
    await logged(d, /"level":40[^\n]*developer rights \(开发者权益包\): 10 days left/);
    expect(d.output()).toMatch(/rate tier developer/);
    const st = await d.status();
    expect(st.developer).toMatchObject({ daysLeft: 10, expiring: true, expired: false });
    expect(st.rateTier).toBe('developer');
    const human = await execFileP(process.execPath, [BIN, 'status', d.mountpoint, '--state-dir', d.stateDir]);
    expect(human.stdout).toMatch(/developer WARNING 10 days left \(until \d{4}-\d\d-\d\d\): renew/);

    emu.setConfig({ developerDays: -1 });
    const r = await sh(`mkdir ${d.mountpoint}/a 2>&1; echo "exit=$?"; mkdir ${d.mountpoint}/b 2>&1; true`);
    expect(r.stdout).toMatch(/Permission denied/);
    expect(r.stdout).not.toMatch(/Input\/output error/);
    expect(r.stdout).toMatch(/exit=1/);
    await logged(d, /"level":50[^\n]*have expired[^\n]*www\.123pan\.com\/developer/);
    const said = d.output().match(/developer rights \(开发者权益包\) of this account have expired/g) ?? [];
    expect(said.length).toBe(1); // one line, not one per failure
    expect((await d.status()).developer).toMatchObject({ expired: true });

    emu.setConfig({ developerDays: 365 });
    await sh(`mkdir ${d.mountpoint}/c`);
    expect(emu.tree().some((e) => e.path === '/c' && e.type === 'folder')).toBe(true);
  });

  it('a start with the rights expired ends with one line that says so', async () => {
    emu.setConfig({ developerDays: -1 });
    try {
      const err = await mounts.daemon({ apiBase: emu.baseUrl }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/exited with 1 before ready/);
      expect(err?.message).toMatch(/developer rights \(开发者权益包\) of this account have expired/);
      expect(err?.message).toMatch(/123pan\.com\/developer/);
    } finally {
      emu.setConfig({ developerDays: 365 });
    }
  });
});
