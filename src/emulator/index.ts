// Public entry of the 123 Open emulator: startEmulator() plus the types other modules and tests use.
// Everything else in src/emulator/ is internal.

import { EmulatorServer } from './server.js';
import type { EmulatorHandle, EmulatorOptions } from './types.js';

export type {
  EmulatorCounters,
  EmulatorHandle,
  EmulatorOptions,
  EmulatorTreeEntry,
  FaultKind,
  FaultRule,
  RuntimeConfig,
  WanOptions,
} from './types.js';
export {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_LINK_TTL_SEC,
  DEFAULT_SLICE_SIZE,
  DEFAULT_TOKEN_TTL_SEC,
  DEFAULT_UID,
} from './server.js';

export async function startEmulator(opts: EmulatorOptions = {}): Promise<EmulatorHandle> {
  const server = new EmulatorServer(opts);
  try {
    return await server.start(opts.listen);
  } catch (e) {
    await server.close().catch(() => undefined);
    throw e;
  }
}
