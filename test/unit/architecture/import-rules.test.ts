// Checks the dependency rules of docs/ARCHITECTURE.md by scanning every import in src/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const all = files(SRC).map((p) => {
  const rel = relative(SRC, p).split(sep).join('/');
  const text = readFileSync(p, 'utf8');
  const imports = [
    ...text.matchAll(
      new RegExp(
        [
          /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/.source,
          /import\(\s*['"]([^'"]+)['"]\s*\)/.source,
          /require\(\s*['"]([^'"]+)['"]\s*\)/.source,
        ].join('|'),
        'g',
      ),
    ),
  ].map((m) => m[1] ?? m[2] ?? m[3]!);
  return { rel, layer: rel.includes('/') ? rel.split('/')[0]! : rel, text, imports };
});

/** The layer a relative import points at, from the importing file. */
function targetLayer(fromRel: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const parts = fromRel.split('/').slice(0, -1);
  for (const seg of spec.split('/')) {
    if (seg === '..') parts.pop();
    else if (seg !== '.') parts.push(seg);
  }
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.js$/, '');
}

const PACKAGE_RULES: Record<string, (layer: string, rel: string) => boolean> = {
  'fuse-native': (l) => l === 'fuse',
  undici: (l) => l === 'pan' || l === 'emulator',
  'better-sqlite3': (l) => l === 'meta' || l === 'emulator',
  pino: (l, rel) => l === 'daemon' || rel === 'main.ts',
};

// Which layers each layer may import (fuse → vfs → meta/data/write → pan → core; nothing points back up).
const LAYER_RULES: Record<string, string[]> = {
  core: [],
  pan: ['core'],
  meta: ['core'],
  data: ['core'],
  write: ['core', 'pan', 'meta'],
  vfs: ['core', 'pan', 'meta', 'data', 'write'],
  fuse: ['core', 'vfs', 'platform'],
  emulator: ['core'],
  config: ['core', 'platform'],
  platform: ['core'],
  webdav: ['core', 'config', 'vfs'],
  daemon: ['core', 'config', 'pan', 'meta', 'data', 'write', 'vfs', 'fuse', 'platform', 'webdav'],
  cli: ['core', 'config', 'daemon', 'emulator', 'pan', 'fuse', 'platform'],
};

describe('architecture import rules', () => {
  it('found the sources', () => {
    expect(all.length).toBeGreaterThan(20);
  });

  it('third-party packages are imported only where ARCHITECTURE.md allows', () => {
    const bad: string[] = [];
    for (const f of all) {
      for (const spec of f.imports) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const rule = PACKAGE_RULES[pkg];
        if (rule && !rule(f.layer, f.rel)) bad.push(`${f.rel} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('layers import only the layers below them', () => {
    const bad: string[] = [];
    for (const f of all) {
      const allowed = LAYER_RULES[f.layer];
      if (!allowed) continue; // main.ts: the composition root may import anything
      for (const spec of f.imports) {
        const t = targetLayer(f.rel, spec);
        if (t && t !== f.layer && !allowed.includes(t)) bad.push(`${f.rel} (${f.layer}) imports ${spec} (${t})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('SQL lives only in src/meta and src/emulator', () => {
    const sql = /['"`]\s*(SELECT\s|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|PRAGMA\s)/i;
    const bad = all.filter((f) => f.layer !== 'meta' && f.layer !== 'emulator' && sql.test(f.text)).map((f) => f.rel);
    expect(bad).toEqual([]);
  });
});
