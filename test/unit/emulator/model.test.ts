import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ApiError, MSG } from '../../../src/emulator/errors.js';
import { Model } from '../../../src/emulator/model.js';
import { isValidName, suffixedName } from '../../../src/emulator/names.js';
import { Store } from '../../../src/emulator/store.js';
import { FakeClock } from '../../support/clock.js';

const EMULATOR_T0 = Date.UTC(2025, 2, 23, 7, 48, 37);

let dir: string;
let store: Store;
let model: Model;
let clock: FakeClock;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-model-'));
  store = new Store(dir, 100n);
  clock = new FakeClock('instant', EMULATOR_T0);
  model = new Model(store, clock);
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function err(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

describe('names', () => {
  test('forbidden characters, all spaces, empty, length', () => {
    for (const ch of '"\\/:*?|><') expect(isValidName(`a${ch}b`)).toBe(false);
    expect(isValidName('   ')).toBe(false);
    expect(isValidName('')).toBe(false);
    // strict default: "less than 255 characters"
    expect(isValidName('x'.repeat(254))).toBe(true);
    expect(isValidName('x'.repeat(255))).toBe(false);
    // nameMaxChars 255: the "小于256个字符" reading
    expect(isValidName('x'.repeat(255), 255)).toBe(true);
    expect(isValidName('x'.repeat(256), 255)).toBe(false);
    expect(isValidName('文'.repeat(255), 255)).toBe(true);
    expect(isValidName(' a ')).toBe(true);
  });
  test('mkdir with a bad name → code 1 and the documented message', () => {
    const e = err(() => model.mkdir(0n, 'a:b'));
    expect([e.code, e.message]).toEqual([1, MSG.nameInvalid]);
  });
  test('suffixes', () => {
    expect(suffixedName('a.txt', 1)).toBe('a(1).txt');
    expect(suffixedName('a', 2)).toBe('a(2)');
    expect(suffixedName('.bashrc', 1)).toBe('.bashrc(1)');
    expect(suffixedName('a.tar.gz', 1)).toBe('a.tar(1).gz');
  });
});

describe('tree', () => {
  test('ids start at idBase and survive reopen', () => {
    const a = model.mkdir(0n, 'a');
    expect(a).toBe(100n);
    store.close();
    store = new Store(dir, 100n);
    model = new Model(store, clock);
    expect(model.mkdir(0n, 'b')).toBe(101n);
    expect(model.get(a)!.name).toBe('a');
  });
  test('mkdir clash, rename clash, case-sensitive names', () => {
    const a = model.mkdir(0n, 'a');
    expect(err(() => model.mkdir(0n, 'a')).message).toBe(MSG.mkdirClash);
    const b = model.mkdir(0n, 'A');
    expect(err(() => model.rename(b, 'a')).message).toBe(MSG.renameClash);
    model.rename(a, 'a'); // same name: no-op
    model.rename(a, 'c');
    expect(model.get(a)!.name).toBe('c');
  });
  test('move: same folder, into itself, into descendant, clash, all-or-nothing', () => {
    const a = model.mkdir(0n, 'a');
    const b = model.mkdir(a, 'b');
    const c = model.mkdir(0n, 'c');
    expect(err(() => model.move([b], a)).message).toBe(MSG.moveSame);
    expect(err(() => model.move([a], a)).code).toBe(1);
    expect(err(() => model.move([a], b)).message).toBe(MSG.moveIntoSelf);
    model.mkdir(c, 'b');
    expect(err(() => model.move([b], c)).message).toBe(MSG.renameClash);
    const d = model.mkdir(0n, 'd');
    expect(err(() => model.move([d, b], c)).code).toBe(1);
    expect(model.get(d)!.parentId).toBe(0n);
    model.move([d], a);
    expect(model.get(d)!.parentId).toBe(a);
  });
  test('duplicate modes: 0 clash, 1 suffix, 2 trash old + new id', () => {
    const f = model.createFile(0n, 'a.txt', 'x'.repeat(32), 1, 0);
    expect(err(() => model.createFile(0n, 'a.txt', 'y'.repeat(32), 1, 0)).message).toBe(MSG.createClash);
    const g = model.createFile(0n, 'a.txt', 'y'.repeat(32), 1, 1);
    expect(model.get(g)!.name).toBe('a(1).txt');
    const h = model.createFile(0n, 'a.txt', 'z'.repeat(32), 1, 2);
    expect(h).not.toBe(f);
    expect(model.get(f)!.trashed).toBe(1);
    expect(model.liveChild(0n, 'a.txt')!.id).toBe(h);
    model.mkdir(0n, 'dir');
    expect(err(() => model.createFile(0n, 'dir', 'z'.repeat(32), 1, 2)).message).toBe(MSG.createClash);
  });
  test('trash, delete only trashed, recover, trashed names do not clash', () => {
    const a = model.mkdir(0n, 'a');
    const f = model.createFile(a, 'f', 'x'.repeat(32), 5, 0);
    expect(err(() => model.delete([a])).code).toBe(1);
    model.trash([a]);
    expect(model.get(a)!.trashed).toBe(1);
    expect(model.get(f)!.trashed).toBe(0);
    const a2 = model.mkdir(0n, 'a');
    expect(model.recover([a])).toEqual([a]); // name clash → abnormal
    model.trash([a2]);
    expect(model.recover([a])).toEqual([]);
    expect(model.get(a)!.trashed).toBe(0);
    model.trash([a]);
    model.delete([a]);
    expect(model.get(a)).toBeUndefined();
    expect(model.get(f)).toBeUndefined();
  });
  test('pagination by id with trashed rows included', () => {
    const ids = Array.from({ length: 7 }, (_, i) => model.mkdir(0n, `d${i}`));
    model.trash([ids[2]!]);
    const p1 = model.page(0n, 0n, 3);
    expect(p1.map((r) => r.id)).toEqual(ids.slice(0, 3));
    expect(p1[2]!.trashed).toBe(1);
    expect(model.page(0n, ids[2]!, 10).map((r) => r.id)).toEqual(ids.slice(3));
  });
  test('folder size accumulates live descendants', () => {
    const a = model.mkdir(0n, 'a');
    const b = model.mkdir(a, 'b');
    model.createFile(a, 'x', 'x'.repeat(32), 10, 0);
    const y = model.createFile(b, 'y', 'y'.repeat(32), 32, 0);
    expect(model.folderSize(a)).toBe(42);
    model.trash([y]);
    expect(model.folderSize(a)).toBe(10);
  });
});
