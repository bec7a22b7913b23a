// WebDAV class-2 locks (RFC 4918 §6-7), in memory: write locks, exclusive or shared, depth 0 or
// infinity, with timeouts. They guard this server's own clients against each other (Finder, Windows and
// Office lock before they write); the FUSE mount and 123 itself do not see them, and a restart drops them.
// Invariants: a lock is found by token or by path; an expired lock is gone before any check; locks do not
// move with MOVE and are dropped with the resource (DELETE, and the source of a MOVE).

import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { isWithin, parentOf } from './paths.js';

export interface Lock {
  token: string;
  path: string;
  depth: 0 | 'infinity';
  scope: 'exclusive' | 'shared';
  /** the client's <D:owner> content, as XML */
  ownerXml: string;
  timeoutSec: number;
  expiresAt: number;
}

export const DEFAULT_LOCK_TIMEOUT_SEC = 3600;
const MAX_LOCK_TIMEOUT_SEC = 7 * 24 * 3600;

/** `Timeout: Second-600, Infinite` → seconds (the first one we understand, capped). */
export function parseTimeout(header: string | undefined): number {
  if (!header) return DEFAULT_LOCK_TIMEOUT_SEC;
  for (const t of header.split(',')) {
    const s = t.trim();
    if (/^infinite$/i.test(s)) return MAX_LOCK_TIMEOUT_SEC;
    const m = /^second-(\d+)$/i.exec(s);
    if (m) return Math.min(Math.max(1, Number(m[1])), MAX_LOCK_TIMEOUT_SEC);
  }
  return DEFAULT_LOCK_TIMEOUT_SEC;
}

export class LockManager {
  private readonly byToken = new Map<string, Lock>();

  constructor(private readonly clock: Clock) {}

  private sweep(): void {
    const now = this.clock.now();
    for (const [t, l] of this.byToken) if (l.expiresAt <= now) this.byToken.delete(t);
  }

  get(token: string): Lock | undefined {
    this.sweep();
    return this.byToken.get(token);
  }

  /** locks that apply to `path`: on it, or on an ancestor with depth infinity */
  covering(path: string): Lock[] {
    this.sweep();
    return [...this.byToken.values()].filter(
      (l) => l.path === path || (l.depth === 'infinity' && isWithin(path, l.path)),
    );
  }

  /** locks on `path` or anything below it */
  within(path: string): Lock[] {
    this.sweep();
    return [...this.byToken.values()].filter((l) => isWithin(l.path, path));
  }

  /**
   * Locks a change at `path` must hold a token of: those covering it, those below it when the change
   * takes the whole subtree (DELETE, MOVE source), and any lock on its parent collection when the
   * change adds or removes a member (a depth-0 collection lock protects its membership, RFC 4918 §7.1).
   */
  required(path: string, opts: { subtree?: boolean; membership?: boolean }): Lock[] {
    const set = new Map<string, Lock>();
    for (const l of this.covering(path)) set.set(l.token, l);
    if (opts.subtree) for (const l of this.within(path)) set.set(l.token, l);
    if (opts.membership && path !== '/') for (const l of this.covering(parentOf(path))) set.set(l.token, l);
    return [...set.values()];
  }

  /** null when a conflicting lock exists */
  create(o: Omit<Lock, 'token' | 'expiresAt'>): Lock | null {
    const conflicts = [...this.covering(o.path), ...(o.depth === 'infinity' ? this.within(o.path) : [])];
    if (conflicts.some((l) => l.scope === 'exclusive' || o.scope === 'exclusive')) return null;
    const lock: Lock = { ...o, token: `opaquelocktoken:${randomUUID()}`, expiresAt: 0 };
    lock.expiresAt = this.clock.now() + lock.timeoutSec * 1000;
    this.byToken.set(lock.token, lock);
    return lock;
  }

  refresh(lock: Lock, timeoutSec: number): void {
    lock.timeoutSec = timeoutSec;
    lock.expiresAt = this.clock.now() + timeoutSec * 1000;
  }

  remove(token: string): boolean {
    return this.byToken.delete(token);
  }

  /** the resource (and what is under it) is gone: its locks go too */
  dropWithin(path: string): void {
    for (const l of this.within(path)) this.byToken.delete(l.token);
  }
}

// ---- the If header (RFC 4918 §10.4) ---------------------------------------------------------------

export interface IfCondition {
  not: boolean;
  token?: string;
  etag?: string;
}

export interface IfList {
  /** the tagged resource's URL, or null for the request URL */
  resource: string | null;
  conditions: IfCondition[];
}

export class BadIfHeader extends Error {}

export function parseIf(header: string): IfList[] {
  const lists: IfList[] = [];
  let i = 0;
  let resource: string | null = null;
  const s = header;
  const skip = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  while (true) {
    skip();
    if (i >= s.length) break;
    if (s[i] === '<') {
      const e = s.indexOf('>', i);
      if (e < 0) throw new BadIfHeader('unterminated resource tag');
      resource = s.slice(i + 1, e);
      i = e + 1;
      continue;
    }
    if (s[i] !== '(') throw new BadIfHeader(`unexpected ${JSON.stringify(s[i])} in If header`);
    i++;
    const conditions: IfCondition[] = [];
    while (true) {
      skip();
      if (i >= s.length) throw new BadIfHeader('unterminated list');
      if (s[i] === ')') {
        i++;
        break;
      }
      let not = false;
      if (/^not\b/i.test(s.slice(i, i + 4)) || s.slice(i, i + 3).toLowerCase() === 'not') {
        not = true;
        i += 3;
        skip();
      }
      if (s[i] === '<') {
        const e = s.indexOf('>', i);
        if (e < 0) throw new BadIfHeader('unterminated state token');
        conditions.push({ not, token: s.slice(i + 1, e) });
        i = e + 1;
      } else if (s[i] === '[') {
        const e = s.indexOf(']', i);
        if (e < 0) throw new BadIfHeader('unterminated entity tag');
        conditions.push({ not, etag: s.slice(i + 1, e).trim() });
        i = e + 1;
      } else throw new BadIfHeader(`unexpected ${JSON.stringify(s[i])} in If list`);
    }
    if (conditions.length === 0) throw new BadIfHeader('empty If list');
    lists.push({ resource, conditions });
  }
  if (lists.length === 0) throw new BadIfHeader('empty If header');
  return lists;
}

/** every state token the client named (a lock is "submitted" when its token is among them) */
export function submittedTokens(lists: IfList[]): Set<string> {
  const out = new Set<string>();
  for (const l of lists) for (const c of l.conditions) if (c.token && !c.not) out.add(c.token);
  return out;
}
