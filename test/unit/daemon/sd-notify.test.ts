// notifySystemd goes through `systemd-notify --pid=<our pid>` (Node has no AF_UNIX datagrams): the
// message reaches the socket named by NOTIFY_SOCKET, carries our pid as MAINPID, and the call returns
// (systemd-notify's barrier is released) instead of hanging.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifySystemd } from '../../../src/daemon/sd-notify.js';
import { startNotifySocket, type NotifySocket } from '../../helpers/notify-socket.js';

const have = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v systemd-notify && command -v python3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(have)('sd-notify', () => {
  let dir: string;
  let sock: NotifySocket;
  const saved = process.env.NOTIFY_SOCKET;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pan123fs-notify-'));
    sock = await startNotifySocket(dir);
  });
  afterAll(() => {
    sock?.close();
    if (saved === undefined) delete process.env.NOTIFY_SOCKET;
    else process.env.NOTIFY_SOCKET = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends READY=1 with our pid to NOTIFY_SOCKET and returns promptly', async () => {
    process.env.NOTIFY_SOCKET = sock.path;
    const t0 = Date.now();
    await notifySystemd('READY=1');
    expect(Date.now() - t0).toBeLessThan(4000);
    const m = await sock.waitFor('READY=1', 5000);
    expect(m).toContain(`MAINPID=${process.pid}`);
  });

  it('is a no-op without NOTIFY_SOCKET', async () => {
    delete process.env.NOTIFY_SOCKET;
    const before = sock.messages.length;
    await notifySystemd('STOPPING=1');
    // a marker sent afterwards arrives after anything the call above sent
    process.env.NOTIFY_SOCKET = sock.path;
    await notifySystemd('STATUS=marker');
    await sock.waitFor('STATUS=marker', 5000);
    expect(sock.messages[before]).toContain('STATUS=marker'); // the first since: nothing came before it
    expect(sock.messages.some((m) => m.includes('STOPPING=1'))).toBe(false);
  });
});
