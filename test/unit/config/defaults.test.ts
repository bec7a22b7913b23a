// Option defaults are defined once (core/defaults.ts): the option table shows them in its notation and
// resolves to exactly the values the modules fall back to when they get no option.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveMountConfig } from '../../../src/config/resolve.js';
import { DEFAULTS } from '../../../src/core/defaults.js';
import { DEFAULT_MEM_CACHE_BYTES } from '../../../src/data/block-cache.js';
import { DEFAULT_MAX_READ_AHEAD } from '../../../src/data/read-window.js';
import { DEFAULT_API_BASE } from '../../../src/pan/http-pan-client.js';
import { DEFAULT_SLICE_CONCURRENCY } from '../../../src/write/upload-flow.js';
import { DEFAULT_FILE_CONCURRENCY } from '../../../src/write/upload-queue.js';

const SRC = join(__dirname, '..', '..', '..', 'src');
const files = (d: string): string[] =>
  readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });

describe('option defaults', () => {
  it('the resolved defaults are the module defaults', async () => {
    const c = await resolveMountConfig({ clientId: 'cid', clientSecret: 's' }, {});
    expect(c.apiBase).toBe(DEFAULT_API_BASE);
    expect(c.memCacheSize).toBe(DEFAULT_MEM_CACHE_BYTES);
    expect(c.readAheadMax).toBe(DEFAULT_MAX_READ_AHEAD);
    expect(c.uploadConcurrency).toBe(DEFAULT_FILE_CONCURRENCY);
    expect(c.sliceConcurrency).toBe(DEFAULT_SLICE_CONCURRENCY);
    expect(c.rateLimitScale).toBe(DEFAULTS.rateLimitScale);
    expect(c.attrTimeoutMs).toBe(DEFAULTS.attrTimeoutSec * 1000);
  });

  it('the API base URL is spelled only in core/defaults.ts (the emulator excepted: it imitates the host)', () => {
    const spelled = files(SRC)
      .filter((p) => readFileSync(p, 'utf8').includes('open-api.123pan.com'))
      .map((p) => relative(SRC, p).split('\\').join('/'))
      .filter((p) => !p.startsWith('emulator/'));
    expect(spelled).toEqual(['core/defaults.ts']);
  });
});
