// Per-endpoint QPS limits (123open-api.md §5.1): the free-user column of the developer table, else the
// OAuth table, else our choice (marked), times rateLimitScale (0 = off). Sliding window: an endpoint
// with q QPS admits N = max(1, floor(q)) requests in any window of N/q seconds (so 0.2 QPS = 1 per 5 s).
// Keyed by endpoint and account/client. Refusals are answered with code 429 by the caller.

import type { Clock } from '../core/clock.js';

/** QPS per endpoint name; endpoints absent here are not limited. */
export const QPS: Record<string, number> = {
  access_token: 8, // developer free column
  user_info: 10, // developer free column
  file_move: 3, // developer free column
  file_delete: 1, // developer free column
  file_list_v1: 0.2, // developer free column
  file_list: 5, // developer free column (v2)
  mkdir: 5, // developer free column
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

export class RateLimiter {
  private readonly windows = new Map<string, number[]>();
  scale = 1;

  constructor(private readonly clock: Clock) {}

  /** True when admitted (and recorded); false when over the limit. */
  admit(endpoint: string, key: string): boolean {
    const qps = QPS[endpoint];
    if (qps === undefined || this.scale <= 0) return true;
    const q = qps * this.scale;
    const n = Math.max(1, Math.floor(q));
    const windowMs = (n / q) * 1000;
    const now = this.clock.now();
    const k = `${endpoint}\u0000${key}`;
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
