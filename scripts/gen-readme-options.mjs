#!/usr/bin/env node
// Regenerates the option lists in README.md (English help) and README.zh-CN.md (Chinese help, from
// src/config/options-zh.ts) between the OPTIONS markers, from the one option table (src/config/options.ts,
// compiled to dist/). `--check` exits 1 when either README is out of date or an option has no Chinese
// help (a unit test runs it that way).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { OPTIONS } = await import(new URL('../dist/config/options.js', import.meta.url));
const { HELP_ZH } = await import(new URL('../dist/config/options-zh.js', import.meta.url));

const missing = OPTIONS.filter((o) => !HELP_ZH[o.key]).map((o) => o.key);
if (missing.length) {
  console.error(`src/config/options-zh.ts has no Chinese help for: ${missing.join(', ')}`);
  process.exit(1);
}

function table(header, help) {
  const rows = OPTIONS.map((o) => {
    const flag = o.type === 'bool' ? `--${o.flag}` : `--${o.flag} <${o.type}>`;
    const def = o.default === undefined ? '' : `\`${o.default}\``;
    const env = o.env ? `\`${o.env}\`` : '';
    return `| \`${flag}\` | ${env} | \`${o.key}\` | ${def} | ${help(o).replace(/\|/g, '\\|')} |`;
  });
  return [header, '|---|---|---|---|---|', ...rows].join('\n');
}

const targets = [
  ['README.md', table('| flag | environment | config key | default | meaning |', (o) => o.help)],
  ['README.zh-CN.md', table('| 参数 | 环境变量 | 配置键 | 默认值 | 说明 |', (o) => HELP_ZH[o.key])],
];
const re = /(<!-- OPTIONS:BEGIN[^>]*-->\n)[\s\S]*?(<!-- OPTIONS:END -->)/;
let stale = false;
for (const [file, text] of targets) {
  const readme = readFileSync(`${root}${file}`, 'utf8');
  if (!re.test(readme)) {
    console.error(`${file} has no OPTIONS markers`);
    process.exit(2);
  }
  const next = readme.replace(re, (_m, a, b) => `${a}${text}\n${b}`);
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error(`${file} option list is out of date: run node scripts/gen-readme-options.mjs`);
      stale = true;
    }
  } else writeFileSync(`${root}${file}`, next);
}
if (stale) process.exit(1);
