#!/usr/bin/env node
// Regenerates the option list in README.md (between the OPTIONS markers) from the one option table
// (src/config/options.ts, compiled to dist/). `--check` exits 1 when the README is out of date (a unit
// test runs it that way).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { OPTIONS } = await import(new URL('../dist/config/options.js', import.meta.url));
const rows = OPTIONS.map((o) => {
  const flag = o.type === 'bool' ? `--${o.flag}` : `--${o.flag} <${o.type}>`;
  const def = o.default === undefined ? '' : `\`${o.default}\``;
  return `| \`${flag}\` | ${o.env ? `\`${o.env}\`` : ''} | \`${o.key}\` | ${def} | ${o.help.replace(/\|/g, '\\|')} |`;
});
const table = ['| flag | environment | config key | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
const readme = readFileSync(`${root}README.md`, 'utf8');
const re = /(<!-- OPTIONS:BEGIN[^>]*-->\n)[\s\S]*?(<!-- OPTIONS:END -->)/;
if (!re.test(readme)) {
  console.error('README.md has no OPTIONS markers');
  process.exit(2);
}
const next = readme.replace(re, (_m, a, b) => `${a}${table}\n${b}`);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md option list is out of date: run node scripts/gen-readme-options.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(`${root}README.md`, next);
}
