// Lines ≤ 120 characters in the code we write (the formatter wraps code; this catches strings and comments
// it leaves alone). Prints each offender and exits 1.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const LIMIT = 120;
const roots = ['src', 'test', 'bench', 'scripts', 'bin'];
const exts = /\.(ts|mjs|js|c|sh)$/;
let bad = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (exts.test(name)) {
      readFileSync(p, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if ([...line].length > LIMIT) {
            bad++;
            console.log(`${p}:${i + 1}: ${[...line].length} characters`);
          }
        });
    }
  }
}
for (const r of roots) walk(r);
if (bad) {
  console.log(`${bad} lines over ${LIMIT} characters`);
  process.exit(1);
}
