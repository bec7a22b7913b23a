// One-line fatal errors for the CLI: what went wrong and what to do, no stack trace (unless
// PAN123_DEBUG is set).

import { UserFacingError } from '../core/user-error.js';
export { UserFacingError };

export function dieWith(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`pan123fs: ${msg}\n`);
  if (process.env.PAN123_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  process.exit(e instanceof UserFacingError ? e.exitCode : 1);
}
