#!/usr/bin/env node
// Entry point for `npx pan123fs` / the installed bin. The real code lives in dist/ (npm run build in a
// checkout; `npm pack` builds it through prepack, so an installed package always has it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('pan123fs: not built yet — run `npm ci && npm run build` in the checkout first.\n');
  process.exit(1);
}
await import(main);
