// A stand-in for systemd's notification socket. Node cannot bind AF_UNIX datagram sockets, so a tiny
// python3 process binds one and prints every message it receives as one JSON line; fds passed along
// (systemd-notify's BARRIER=1) are closed at once, which is what releases the sender's barrier wait.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const PY = `
import socket, sys, os, json, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
    for level, typ, payload in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
            for fd in fds: os.close(fd)
    print(json.dumps({"msg": data.decode("utf-8", "replace")}), flush=True)
`;

export interface NotifySocket {
  path: string;
  /** every message so far, in order */
  messages: string[];
  /** resolves with the first message containing `text` (and runs `onArrive` synchronously first) */
  waitFor(text: string, timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function startNotifySocket(dir: string): Promise<NotifySocket> {
  const path = join(dir, 'notify.sock');
  const proc: ChildProcess = spawn('python3', ['-c', PY, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  const waiters: Array<{ text: string; res: (m: string) => void }> = [];
  let buf = '';
  let bound!: () => void;
  const ready = new Promise<void>((r) => {
    bound = r;
  });
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const o = JSON.parse(buf.slice(0, nl)) as { bound?: boolean; msg?: string };
      buf = buf.slice(nl + 1);
      if (o.bound) {
        bound();
        continue;
      }
      messages.push(o.msg!);
      for (const w of waiters.splice(0)) o.msg!.includes(w.text) ? w.res(o.msg!) : waiters.push(w);
    }
  });
  await Promise.race([
    ready,
    new Promise((_, rej) => proc.on('exit', (c) => rej(new Error(`notify socket helper exited with ${c}`)))),
  ]);
  return {
    path,
    messages,
    waitFor(text, timeoutMs = 30_000) {
      const hit = messages.find((m) => m.includes(text));
      if (hit) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const t = setTimeout(
          () =>
            rej(new Error(`no "${text}" on the notify socket in ${timeoutMs} ms (got ${JSON.stringify(messages)})`)),
          timeoutMs,
        );
        waiters.push({
          text,
          res: (m) => {
            clearTimeout(t);
            res(m);
          },
        });
      });
    },
    close() {
      proc.kill();
    },
  };
}
