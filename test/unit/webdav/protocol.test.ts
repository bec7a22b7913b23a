// WebDAV protocol pieces without I/O: URL ↔ path encoding, Range parsing, the XML reader, the If
// header, in-memory locks, and the dead-property store over a real (temporary) metadata database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openMetaDb } from '../../../src/meta/db.js';
import { DeadProps } from '../../../src/meta/dead-props.js';
import { NodeStore, ROOT_INO } from '../../../src/meta/node-store.js';
import { LockManager, parseIf, parseTimeout, submittedTokens } from '../../../src/webdav/locks.js';
import { BadPath, pathToHref, urlToPath } from '../../../src/webdav/paths.js';
import { parseRange } from '../../../src/webdav/ranges.js';
import { XmlError, innerXml, parseXml, serialize } from '../../../src/webdav/xml.js';
import { isLoopback, parseListenAddress } from '../../../src/config/webdav.js';

describe('paths', () => {
  it('decodes Chinese, spaces, #, % and + in segments, and + stays a plus', () => {
    expect(urlToPath('/%E4%B8%AD%E6%96%87%20dir/a%20%23%25%2B+b.txt')).toBe('/中文 dir/a #%++b.txt');
    expect(urlToPath('http://host:8080/x/y/?q=1')).toBe('/x/y');
    expect(urlToPath('/')).toBe('/');
    expect(urlToPath('//a//b/')).toBe('/a/b');
  });

  it('refuses dot segments, encoded slashes and broken escapes', () => {
    expect(() => urlToPath('/a/../b')).toThrow(BadPath);
    expect(() => urlToPath('/a%2Fb')).toThrow(BadPath);
    expect(() => urlToPath('/%E4%B8')).toThrow(BadPath);
    expect(() => urlToPath('relative')).toThrow(BadPath);
  });

  it('encodes every byte outside the unreserved set and round-trips', () => {
    const p = "/中文 目录/a #%+b's (1).txt";
    const href = pathToHref(p, false);
    expect(href).toBe('/%E4%B8%AD%E6%96%87%20%E7%9B%AE%E5%BD%95/a%20%23%25%2Bb%27s%20%281%29.txt');
    expect(urlToPath(href)).toBe(p);
    expect(pathToHref('/d', true)).toBe('/d/');
    expect(pathToHref('/', true)).toBe('/');
  });
});

describe('Range', () => {
  it('parses first-last, open and suffix ranges, clipped to the size', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual([{ start: 0, end: 99 }]);
    expect(parseRange('bytes=900-', 1000)).toEqual([{ start: 900, end: 999 }]);
    expect(parseRange('bytes=-100', 1000)).toEqual([{ start: 900, end: 999 }]);
    expect(parseRange('bytes=990-2000', 1000)).toEqual([{ start: 990, end: 999 }]);
  });

  it('keeps several ranges (sorted, overlaps merged); unsatisfiable is []; junk is ignored', () => {
    expect(parseRange('bytes=500-599, 0-9', 1000)).toEqual([
      { start: 0, end: 9 },
      { start: 500, end: 599 },
    ]);
    expect(parseRange('bytes=0-10,5-20', 1000)).toEqual([{ start: 0, end: 20 }]);
    expect(parseRange('bytes=1000-', 1000)).toEqual([]);
    expect(parseRange('bytes=5-1', 1000)).toBeNull();
    expect(parseRange('items=0-1', 1000)).toBeNull();
  });
});

describe('XML', () => {
  it('resolves namespaces, decodes entities and keeps dead values self-contained', () => {
    const doc = parseXml(
      '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example/"><D:set><D:prop>' +
        '<Z:author>A &amp; B &#x4E2D;</Z:author><Z:rich><x:b xmlns:x="urn:x" x:attr="1">bold</x:b></Z:rich>' +
        '</D:prop></D:set></D:propertyupdate>',
    );
    expect(doc).toMatchObject({ ns: 'DAV:', local: 'propertyupdate' });
    const prop = (doc.children[0] as never as { children: unknown[] }).children[0] as ReturnType<typeof parseXml>;
    const [author, rich] = prop.children as ReturnType<typeof parseXml>[];
    expect(author).toMatchObject({ ns: 'http://ns.example/', local: 'author', children: ['A & B 中'] });
    expect(innerXml(author!)).toBe('A &amp; B 中');
    const stored = innerXml(rich!);
    expect(stored).toBe('<b xmlns="urn:x" xmlns:a0="urn:x" a0:attr="1">bold</b>');
    expect(serialize(parseXml(stored))).toBe(stored);
  });

  it('refuses DOCTYPE (no entity expansion), undeclared prefixes and mismatched tags', () => {
    expect(() => parseXml('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')).toThrow(XmlError);
    expect(() => parseXml('<p:x/>')).toThrow(XmlError);
    expect(() => parseXml('<a><b></a></b>')).toThrow(XmlError);
  });
});

describe('If header and locks', () => {
  it('parses tagged and untagged lists with Not, tokens and etags', () => {
    const lists = parseIf('<http://h/a> (<opaquelocktoken:1> ["e1"]) (Not <DAV:no-lock>)');
    expect(lists).toEqual([
      {
        resource: 'http://h/a',
        conditions: [
          { not: false, token: 'opaquelocktoken:1' },
          { not: false, etag: '"e1"' },
        ],
      },
      { resource: 'http://h/a', conditions: [{ not: true, token: 'DAV:no-lock' }] },
    ]);
    expect([...submittedTokens(lists)]).toEqual(['opaquelocktoken:1']);
    expect(() => parseIf('(<x>')).toThrow();
  });

  it('exclusive locks conflict, shared ones stack, depth infinity covers the subtree, timeouts expire', () => {
    let now = 1000;
    const m = new LockManager({ now: () => now } as never);
    const base = { ownerXml: '', timeoutSec: 10 };
    const a = m.create({ ...base, path: '/d', depth: 'infinity', scope: 'shared' })!;
    expect(m.create({ ...base, path: '/d', depth: 0, scope: 'shared' })).not.toBeNull();
    expect(m.create({ ...base, path: '/d/f', depth: 0, scope: 'exclusive' })).toBeNull();
    expect(m.covering('/d/f').map((l) => l.token)).toContain(a.token);
    expect(m.required('/d/new', { membership: true }).length).toBe(2);
    now += 11_000;
    expect(m.covering('/d/f')).toEqual([]);
    expect(parseTimeout('Second-600')).toBe(600);
    expect(parseTimeout('Infinite, Second-5')).toBeGreaterThan(600);
  });
});

describe('listen addresses', () => {
  it('a bare port is loopback; HOST:PORT and [v6]:PORT are parsed', () => {
    expect(parseListenAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListenAddress(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListenAddress('[::1]:81')).toEqual({ host: '::1', port: 81 });
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && !isLoopback('0.0.0.0') && !isLoopback('192.168.1.2')).toBe(
      true,
    );
  });
});

describe('dead properties in the metadata store', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are set and removed atomically, copied, kept across a rename and dropped with the node', () => {
    dir = mkdtempSync(join(tmpdir(), 'pan123fs-deadprops-'));
    const db = openMetaDb(join(dir, 'meta.sqlite'));
    const store = new NodeStore(db);
    store.ensureRoot('0', 0);
    const root = store.get(ROOT_INO)!;
    const a = store.insert({ remoteId: '10', parentIno: root.ino, name: 'a', isDir: false, now: 0, dirty: false });
    const b = store.insert({ remoteId: '11', parentIno: root.ino, name: 'b', isDir: false, now: 0, dirty: false });
    const props = new DeadProps(db);
    props.apply(a, [
      { ns: 'urn:x', name: 'p', value: 'v1' },
      { ns: '', name: 'q', value: '<i xmlns="urn:y">x</i>' },
    ]);
    props.apply(a, [
      { ns: 'urn:x', name: 'p', value: 'v2' },
      { ns: '', name: 'q', value: null },
    ]);
    expect(props.list(a)).toEqual([{ ns: 'urn:x', name: 'p', value: 'v2' }]);
    props.copy(a, b);
    expect(props.list(b)).toEqual([{ ns: 'urn:x', name: 'p', value: 'v2' }]);
    expect(() => props.apply(999, [{ ns: 'urn:x', name: 'p', value: 'v' }])).toThrow();
    store.delete(a);
    expect(props.list(a)).toEqual([]);
    expect(db.pragma('user_version', { simple: true })).toBe(5); // v4: upload_fixups, v5: pins
    db.close();
  });
});
