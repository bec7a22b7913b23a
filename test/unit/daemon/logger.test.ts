// The logger redacts by itself: whatever a caller logs, no secret value, token, auth_key or signed URL
// path reaches the output.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, Redactor } from '../../../src/daemon/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('redacting logger', () => {
  const secret = 'super-secret-client-key';
  const jwt =
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

  it('scrubs registered secrets, JWTs, Bearer tokens, auth_key and URL paths in messages and fields', () => {
    const r = new Redactor();
    r.addSecret(secret);
    const { lines, destination } = capture();
    const log = createLogger({ level: 'debug', redactor: r, destination: destination as never, pretty: false });
    log.info(
      {
        op: 'x',
        note: `secret is ${secret}`,
        hdr: `Bearer ${jwt}`,
        nested: { deep: [`https://cdn.example.com/123-61/abc?e=1&s=2`] },
      },
      `token ${jwt}`,
    );
    log.warn(`https://vip.123pan.cn/1814435920/dir/f.bin?auth_key=1700000000-rand-1814435920-0123456789abcdef`);
    log.error(
      { err: new Error(`failed with ${secret} at https://download-cdn.cjjd19.com/123-61/ab6dd0cf/18?x=1`) },
      'boom',
    );
    log.debug({ clientSecret: 'abc', accessToken: 'def', url: 'https://h/p' }, 'keys');
    const out = lines.join('');
    expect(out).not.toContain(secret);
    expect(out).not.toContain(jwt);
    expect(out).not.toMatch(/auth_key=\d/);
    expect(out).not.toContain('123-61');
    expect(out).not.toContain('?e=1');
    expect(out).not.toContain('"abc"');
    expect(out).not.toContain('"def"');
    expect(out).toContain('https://cdn.example.com/[REDACTED]');
    expect(out).toContain('boom');
    expect(lines).toHaveLength(4);
  });

  it('bound methods can be passed around', () => {
    const { lines, destination } = capture();
    const log = createLogger({
      level: 'info',
      redactor: new Redactor(),
      destination: destination as never,
      pretty: false,
    });
    const f = Math.random() > 2 ? log.warn : log.info;
    f({ op: 'y' }, 'hello');
    expect(lines.join('')).toContain('hello');
  });
});
