// Per-endpoint QPS limits (123open-api.md §5.1, §11) in three tiers: the 2025 developer table's free and
// VIP columns and the 2026 table's one column (for accounts with developer rights), else the OAuth table,
// else our choice (marked), times rateLimitScale (0 = off). Sliding window: an endpoint
// with q QPS admits N = max(1, floor(q)) requests in any window of N/q seconds (so 0.2 QPS = 1 per 5 s).
// Keyed by endpoint and account/client. Refusals are answered with code 429 by the caller.

import type { Clock } from '../core/clock.js';

export type RateTier = 'free' | 'vip' | 'developer';

/**
 * The rows that differ per tier: [free, VIP] = the 2025 developer table's two columns (§5.1), developer =
 * the 2026 table's single column (go-123pan's copy, §5.2/§11).
 */
const TIERED: Record<string, [free: number, vip: number, developer: number]> = {
  access_token: [8, 10, 10],
  user_info: [10, 10, 10],
  file_move: [3, 10, 20],
  file_delete: [1, 10, 10],
  file_list_v1: [0.2, 10, 10],
  file_list: [5, 10, 15], // v2
  mkdir: [5, 20, 20],
};

/** QPS per endpoint name for the rows every tier shares; endpoints absent from both tables are not limited. */
const SHARED: Record<string, number> = {
  file_trash: 5, // OAuth table
  file_infos: 10, // OAuth table
  download_info: 5, // OAuth table
  upload_complete: 20, // OAuth table (v1 upload_complete)
  upload_create: 5, // OAuth table (v1 create)
  file_detail: 10, // choice: like infos
  file_name: 5, // choice: §5.2 recommendation (≤5/s for rename)
  file_rename: 5, // choice
  file_recover: 5, // choice: like trash
  file_copy: 5, // choice: not in any table
  direct_link_url: 5, // choice: what OpenList uses
  direct_link_enable: 5, // choice
  direct_link_disable: 5, // choice
  // not limited (choice): upload_slice, upload_single, upload_domain, CDN downloads
};

const COLUMN: Record<RateTier, 0 | 1 | 2> = { free: 0, vip: 1, developer: 2 };

/** The QPS of an endpoint at a tier; undefined = not limited. */
export function qpsOf(endpoint: string, tier: RateTier): number | undefined {
  const row = TIERED[endpoint];
  return row ? row[COLUMN[tier]] : SHARED[endpoint];
}

export class RateLimiter {
  private readonly windows = new Map<string, number[]>();
  scale = 1;

  constructor(
    private readonly clock: Clock,
    /** the column enforced now (server.ts: the rateTier option, or the one the account's user/info implies) */
    private readonly tier: () => RateTier = () => 'free',
  ) {}

  /** True when admitted (and recorded); false when over the limit. */
  admit(endpoint: string, key: string): boolean {
    const tier = this.tier();
    const qps = qpsOf(endpoint, tier);
    if (qps === undefined || this.scale <= 0) return true;
    const q = qps * this.scale;
    const n = Math.max(1, Math.floor(q));
    const windowMs = (n / q) * 1000;
    const now = this.clock.now();
    const k = `${endpoint}\u0000${tier}\u0000${key}`;
    const hits = (this.windows.get(k) ?? []).filter((t) => now - t < windowMs);
    if (hits.length >= n) {
      this.windows.set(k, hits);
      return false;
    }
    hits.push(now);
    this.windows.set(k, hits);
    return true;
  }

  reset(): void {
    this.windows.clear();
  }
}
