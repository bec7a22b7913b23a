// Defaults of the tunables that both the option table (config/options.ts: flags, env, config file, the
// README's list) and the modules that take them as options (pan, data, write, fuse) fall back to. They
// live here, once, because config/ and those layers may not import each other (ARCHITECTURE.md layers);
// the option table shows them in its own notation ('64M', '5s'). Invariant: no other module spells
// one of these values; it imports it from here.

export const DEFAULTS = {
  /** the 123 Open API */
  apiBase: 'https://open-api.123pan.com',
  /** 48 MiB memory block cache (data/block-cache.ts says why) */
  memCacheBytes: 48 << 20,
  /** 64 MiB read-ahead cap (data/read-window.ts says why) */
  readAheadMaxBytes: 64 << 20,
  /** 2 files uploading at once (write/upload-queue.ts says why) */
  uploadConcurrency: 2,
  /** 3 slices in flight per file (write/upload-flow.ts says why) */
  sliceConcurrency: 3,
  /** multiplier of the client-side QPS budgets: 1 = the documented free-tier limits */
  rateLimitScale: 1,
  /** kernel attribute/entry cache, seconds; `pan123fs refresh` invalidates it (docs/SEMANTICS.md) */
  attrTimeoutSec: 60,
} as const;
