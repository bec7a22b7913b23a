// NameClaims: one run per remote name, released per run through the reverse index, waiters woken once.
import { describe, expect, it } from 'vitest';
import { NameClaims } from '../../../src/write/name-claims.js';

describe('NameClaims', () => {
  it('a name has one holder; a run releases every name it holds and only its own', () => {
    const claims = new NameClaims<string>();
    const a = { parentId: '7', name: 'a' };
    const b = { parentId: '7', name: 'b' };
    const otherFolder = { parentId: '8', name: 'a' };
    claims.claim(a, 'run1');
    claims.claim(b, 'run1');
    claims.claim(otherFolder, 'run2');
    expect(claims.holder(a)).toBe('run1');
    expect(claims.holder(otherFolder)).toBe('run2');
    expect(claims.holder({ parentId: '7', name: 'c' })).toBeUndefined();
    claims.release('run1');
    expect(claims.holder(a)).toBeUndefined();
    expect(claims.holder(b)).toBeUndefined();
    expect(claims.holder(otherFolder)).toBe('run2');
  });

  it('a name taken over by a later run is not released by the earlier one', () => {
    const claims = new NameClaims<string>();
    const a = { parentId: '7', name: 'a' };
    claims.claim(a, 'old');
    claims.claim(a, 'new'); // the queue only does this once 'old' no longer holds it; the index must not care
    claims.release('old');
    expect(claims.holder(a)).toBe('new');
  });

  it('waiters are woken by the release of a run that held a name, once', () => {
    const claims = new NameClaims<string>();
    claims.claim({ parentId: '7', name: 'a' }, 'run1');
    claims.wait(11);
    claims.wait(12);
    claims.wait(11);
    expect(claims.release('no-claims')).toEqual([]); // a run that held nothing wakes nobody
    expect(claims.release('run1').sort()).toEqual([11, 12]);
    expect(claims.release('run1')).toEqual([]);
  });
});
