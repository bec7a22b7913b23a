// Fault injection: an ordered list of rules, replaceable at run time. For each request the first rule
// that matches (path prefix / endpoint name / "*"), has passed its `after` skips, has `count` left and
// wins its `probability` draw fires. Per-rule state (matches seen, times fired) resets when the rules are
// replaced. Applying the fault is the caller's job (http front / CDN), so this module has no I/O.

import type { FaultRule } from './types.js';

interface RuleState {
  rule: FaultRule;
  seen: number;
  fired: number;
}

const KINDS = new Set(['http500', 'reset', 'delay', 'code', 'revoke-tokens']);

export function validateRules(rules: unknown): FaultRule[] {
  if (!Array.isArray(rules)) throw new TypeError('faults must be an array');
  for (const r of rules as FaultRule[]) {
    if (!r || typeof r.match !== 'string' || !KINDS.has(r.kind))
      throw new TypeError(`bad fault rule ${JSON.stringify(r)}`);
    if (r.kind === 'code' && typeof r.code !== 'number') throw new TypeError('fault kind "code" needs a numeric code');
    if (r.kind === 'delay' && typeof r.ms !== 'number') throw new TypeError('fault kind "delay" needs ms');
  }
  return rules as FaultRule[];
}

export class Faults {
  private rules: RuleState[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  set(rules: FaultRule[]): void {
    this.rules = validateRules(rules).map((rule) => ({ rule: { ...rule }, seen: 0, fired: 0 }));
  }

  list(): FaultRule[] {
    return this.rules.map((s) => ({ ...s.rule }));
  }

  /** The rule that fires for this request, if any (consumes one use). */
  pick(endpoint: string, path: string): FaultRule | undefined {
    for (const s of this.rules) {
      const m = s.rule.match;
      if (!(m === '*' || m === endpoint || (m.startsWith('/') && path.startsWith(m)))) continue;
      s.seen++;
      if (s.seen <= (s.rule.after ?? 0)) continue;
      if (s.rule.count !== undefined && s.fired >= s.rule.count) continue;
      if (s.rule.probability !== undefined && this.random() >= s.rule.probability) continue;
      s.fired++;
      return s.rule;
    }
    return undefined;
  }
}
