// The Chinese README (README.zh-CN.md): it exists, starts with the same two commands as README.md before
// its section on using one's own account, and the two READMEs link to each other.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..', '..');
const zh = readFileSync(join(root, 'README.zh-CN.md'), 'utf8');
const en = readFileSync(join(root, 'README.md'), 'utf8');

describe('README.zh-CN.md', () => {
  it('starts with the two commands, before the section on using your own account', () => {
    const at = zh.indexOf('\n## 使用自己的账号');
    expect(at).toBeGreaterThan(0);
    const head = zh.slice(0, at);
    expect(head).toContain('npm run demo');
    expect(head).toContain('npm test');
  });

  it('links to README.md, and README.md links to it near its top', () => {
    expect(zh).toMatch(/\]\(README\.md\)/);
    const top = en.split('\n').slice(0, 5).join('\n');
    expect(top).toMatch(/\]\(README\.zh-CN\.md\)/);
  });

  it('has the option list markers', () => {
    expect(zh).toMatch(/<!-- OPTIONS:BEGIN \(generated\) -->\n[\s\S]*<!-- OPTIONS:END -->/);
  });
});
