// One-line fatal errors for the CLI: what went wrong and what to do, no stack trace (unless
// PAN123_DEBUG is set).

import { writeSync } from 'node:fs';
import { UserFacingError } from '../core/user-error.js';
export { UserFacingError };

export function dieWith(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  // synchronous: process.exit() would cut an asynchronous write to a pipe short
  writeSync(2, `pan123fs: ${msg}\n`);
  if (process.env.PAN123_DEBUG && e instanceof Error && e.stack) writeSync(2, `${e.stack}\n`);
  process.exit(e instanceof UserFacingError ? e.exitCode : 1);
}
