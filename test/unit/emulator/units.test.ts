import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Faults } from '../../../src/emulator/faults.js';
import { asId, field, parseJson, stringifyJson } from '../../../src/emulator/json.js';
import { MultipartParser, boundaryOf } from '../../../src/emulator/multipart.js';
import { parseRange } from '../../../src/emulator/ranges.js';
import { RateLimiter } from '../../../src/emulator/rate-limit.js';
import { Store } from '../../../src/emulator/store.js';
import { formatCst, formatRfc3339Cst } from '../../../src/emulator/time.js';
import { MAX_LIVE, Tokens } from '../../../src/emulator/tokens.js';
import { FakeClock } from '../../support/clock.js';

const EMULATOR_T0 = Date.UTC(2025, 2, 23, 7, 48, 37);

describe('json', () => {
  test('int64 ids keep every digit both ways', () => {
    const v = parseJson('{"fileId": 9007199254740993, "n": 5, "f": 1.5, "s": "x"}') as Record<string, unknown>;
    expect(v.fileId).toBe(9007199254740993n);
    expect(v.n).toBe(5);
    expect(stringifyJson({ id: 9007199254740993n, a: [1, 'b', null] })).toBe(
      '{"id":9007199254740993,"a":[1,"b",null]}',
    );
  });
  test('case-insensitive keys and lenient ids', () => {
    const v = parseJson('{"parentFileId": "12", "PREUPLOADID": "x"}');
    expect(asId(field(v, 'parentFileID'))).toBe(12n);
    expect(field(v, 'preuploadID')).toBe('x');
    expect(asId(-1)).toBeNull();
    expect(asId('1.5')).toBeNull();
    expect(asId(1.5)).toBeNull();
  });
  test('rejects bad JSON', () => {
    expect(() => parseJson('{"a":}')).toThrow();
    expect(() => parseJson('{"a":1} x')).toThrow();
  });
});

describe('time', () => {
  test('UTC+8 formats', () => {
    const ms = Date.UTC(2025, 2, 23, 7, 48, 37);
    expect(formatRfc3339Cst(ms)).toBe('2025-03-23T15:48:37+08:00');
    expect(formatCst(Date.UTC(2024, 3, 30, 16, 30, 0))).toBe('2024-05-01 00:30:00');
  });
});

describe('ranges', () => {
  test('single ranges, suffix, open, past end', () => {
    expect(parseRange(undefined, 10)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-0', 10)).toEqual({ kind: 'partial', start: 0, end: 0 });
    expect(parseRange('bytes=9-', 10)).toEqual({ kind: 'partial', start: 9, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ kind: 'partial', start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
    expect(parseRange('bytes=10-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,3-4', 10)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 10)).toEqual({ kind: 'full' });
  });
});

describe('rate limiter', () => {
  test('sliding one-second window, scale, off', () => {
    const clock = new FakeClock('instant', EMULATOR_T0);
    const rl = new RateLimiter(clock);
    for (let i = 0; i < 5; i++) expect(rl.admit('file_list', 'k')).toBe(true);
    expect(rl.admit('file_list', 'k')).toBe(false);
    clock.advance(999);
    expect(rl.admit('file_list', 'k')).toBe(false);
    clock.advance(1);
    expect(rl.admit('file_list', 'k')).toBe(true);
    expect(rl.admit('upload_slice', 'k')).toBe(true); // unlimited
    rl.scale = 2;
    rl.reset();
    for (let i = 0; i < 10; i++) expect(rl.admit('file_list', 'k')).toBe(true);
    expect(rl.admit('file_list', 'k')).toBe(false);
    rl.scale = 0;
    expect(rl.admit('file_list', 'k')).toBe(true);
  });
  test('fractional QPS: 0.2/s admits one per 5 s', () => {
    const clock = new FakeClock('instant', EMULATOR_T0);
    const rl = new RateLimiter(clock);
    expect(rl.admit('file_list_v1', 'k')).toBe(true);
    clock.advance(4999);
    expect(rl.admit('file_list_v1', 'k')).toBe(false);
    clock.advance(1);
    expect(rl.admit('file_list_v1', 'k')).toBe(true);
  });
});

describe('tokens', () => {
  test('at most 3 live per client; the 4th revokes the oldest; expiry', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-tok-'));
    const store = new Store(dir, 1n);
    const clock = new FakeClock('instant', EMULATOR_T0);
    const t = new Tokens(store, clock, 60);
    const issued = Array.from({ length: 4 }, () => {
      clock.advance(1);
      return t.issue('c').token;
    });
    expect(MAX_LIVE).toBe(3);
    expect(t.check(`Bearer ${issued[0]}`)).toBe('expired');
    for (const x of issued.slice(1)) expect(t.check(`Bearer ${x}`)).toBe('ok');
    expect(t.check(`bearer ${issued[1]}`)).toBe('invalid');
    expect(t.check(undefined)).toBe('missing');
    expect(t.liveCount('c')).toBe(3);
    clock.advance(61_000);
    expect(t.check(`Bearer ${issued[3]}`)).toBe('expired');
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the rival mints every N s of emulator time: 3 of its mints revoke our token', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-tok-'));
    const store = new Store(dir, 1n);
    const clock = new FakeClock('instant', EMULATOR_T0);
    let every = 0;
    let minted = 0;
    const t = new Tokens(store, clock, 86400, {
      clientId: 'c',
      everySec: () => every,
      minted: (n) => {
        minted += n;
      },
    });
    const ours = t.issue('c').token;
    every = 10;
    expect(t.check(`Bearer ${ours}`)).toBe('ok'); // the schedule starts now
    clock.advance(25_000);
    expect(t.check(`Bearer ${ours}`)).toBe('ok'); // 2 rival tokens: 3 live
    expect(minted).toBe(2);
    clock.advance(5_000);
    expect(t.check(`Bearer ${ours}`)).toBe('expired'); // the third revoked the oldest: ours
    expect(minted).toBe(3);
    expect(t.liveCount('c')).toBe(3);
    const again = t.issue('c').token;
    clock.advance(3600_000); // an hour at once: 360 mints counted, the last 3 made
    expect(t.check(`Bearer ${again}`)).toBe('expired');
    expect(minted).toBe(363);
    expect(t.liveCount('c')).toBe(3);
    every = 0; // stopped: our next token lives
    expect(t.check(undefined)).toBe('missing');
    const last = t.issue('c').token;
    clock.advance(3600_000);
    expect(t.check(`Bearer ${last}`)).toBe('ok');
    expect(minted).toBe(363);
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('faults', () => {
  test('match by name or prefix, after, count, probability', () => {
    const f = new Faults(() => 0.5);
    f.set([
      { match: '/api/v2/', kind: 'http500', after: 1, count: 2 },
      { match: 'user_info', kind: 'delay', ms: 5, probability: 0.4 },
    ]);
    const hits = [1, 2, 3, 4].map(() => f.pick('file_list', '/api/v2/file/list')?.kind);
    expect(hits).toEqual([undefined, 'http500', 'http500', undefined]);
    expect(f.pick('user_info', '/api/v1/user/info')).toBeUndefined(); // 0.5 ≥ 0.4
    expect(() => f.set([{ match: 'x', kind: 'nope' as never }])).toThrow();
  });
});

describe('multipart parser', () => {
  const boundary = '----b0undary';
  const body = Buffer.concat([
    Buffer.from(`preamble\r\n--${boundary}\r\nContent-Disposition: form-data; name="preuploadID"\r\n\r\nabc\r\n`),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="slice"; filename="x.part1"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    Buffer.from('bin\r\n------b0undar'),
    Buffer.from('X-not\r\r\n\r\n--'), // near-miss delimiters inside the data
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  function parse(chunkSize: number) {
    const parts: Record<string, { filename?: string; data: string }> = {};
    const p = new MultipartParser(boundary, (info) => {
      const bufs: Buffer[] = [];
      return {
        write: (d) => bufs.push(Buffer.from(d)),
        end: () => {
          parts[info.name] = { filename: info.filename, data: Buffer.concat(bufs).toString('latin1') };
        },
      };
    });
    for (let i = 0; i < body.length; i += chunkSize) p.push(body.subarray(i, i + chunkSize));
    p.end();
    return parts;
  }
  test.each([1, 2, 3, 7, 64, 100000])('any chunking (%i bytes) gives the same parts', (n) => {
    const parts = parse(n);
    expect(parts.preuploadID!.data).toBe('abc');
    expect(parts.slice!.filename).toBe('x.part1');
    expect(parts.slice!.data).toBe('bin\r\n------b0undarX-not\r\r\n\r\n--');
  });
  test('truncated body is an error; boundary from the header', () => {
    const p = new MultipartParser(boundary, () => ({ write() {}, end() {} }));
    p.push(body.subarray(0, 50));
    expect(() => p.end()).toThrow();
    expect(boundaryOf(`multipart/form-data; boundary="${boundary}"`)).toBe(boundary);
    expect(() => boundaryOf('application/json')).toThrow();
  });
});
