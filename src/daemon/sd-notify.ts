// systemd readiness (Type=notify). Node cannot send AF_UNIX datagrams itself, so we use systemd's own
// `systemd-notify --pid=<our pid>`; the units set NotifyAccess=all so the helper's message counts for
// us. A no-op when NOTIFY_SOCKET is unset (not started by systemd).

import { execFile } from 'node:child_process';

export function notifySystemd(state: string): Promise<void> {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('systemd-notify', [`--pid=${process.pid}`, state], { timeout: 5000 }, () => resolve());
  });
}
