// Both READMEs' option lists (English and Chinese help) are generated from the option table and must not
// drift from it; the README
// starts with the two commands (demo and test).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../../../src/config/options.js';
import { HELP_ZH } from '../../../src/config/options-zh.js';

const root = join(__dirname, '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README', () => {
  it('lists every option of the table', () => {
    for (const o of OPTIONS) expect(readme, o.flag).toContain(`\`--${o.flag}`);
  });

  it('every option has a Chinese help text, and README.zh-CN.md lists every option', () => {
    const zh = readFileSync(join(root, 'README.zh-CN.md'), 'utf8');
    for (const o of OPTIONS) {
      expect(HELP_ZH[o.key], o.key).toMatch(/[\u4e00-\u9fff]/);
      expect(zh, o.flag).toContain(`| \`--${o.flag}`);
    }
  });

  it('is in sync with the generator (node scripts/gen-readme-options.mjs --check)', async () => {
    // the generator reads dist/; npm test builds before running the tests
    await expect(
      promisify(execFile)(process.execPath, [join(root, 'scripts', 'gen-readme-options.mjs'), '--check']),
    ).resolves.toBeDefined();
  });

  it('starts with the two commands', () => {
    const head = readme.slice(0, readme.indexOf('## Using it'));
    expect(head).toContain('npm run demo');
    expect(head).toContain('npm test');
  });
});
