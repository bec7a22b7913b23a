// The program's version: read once from the package.json next to dist/ (a checkout or an npm install;
// both ship it), so `--version`, the User-Agent and `status` never disagree with the package. Lives in
// pan/ because the API client sends it (User-Agent: pan123fs/<version>); cli/version.ts re-exports it.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function programVersion(): string {
  cached ??= readVersion();
  return cached;
}

/** What every API call sends as User-Agent. */
export function userAgent(): string {
  return `pan123fs/${programVersion()}`;
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
