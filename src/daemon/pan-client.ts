// clientFromConfig: the one place a resolved MountConfig becomes an HttpPanClient (the daemon, doctor and
// the account commands all build theirs here, so a new client setting is passed in one place).
// Invariant: the client's token file lives in cfg.stateDir, shared by every command of one config (only 3
// live tokens per client id).

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MountConfig } from '../config/resolve.js';
import { HttpPanClient, type HttpPanClientOptions } from '../pan/http-pan-client.js';

export interface PanClientDeps {
  clock?: Clock;
  logger?: Logger;
  /** told of every request's outcome (the daemon's offline detection) */
  health?: HttpPanClientOptions['health'];
  /** told of every call refused because the developer rights expired */
  onDeveloperExpired?: HttpPanClientOptions['onDeveloperExpired'];
}

export function clientFromConfig(
  cfg: Pick<MountConfig, 'apiBase' | 'clientId' | 'clientSecret' | 'stateDir' | 'rateLimitScale'>,
  deps: PanClientDeps = {},
): HttpPanClient {
  return new HttpPanClient({
    apiBase: cfg.apiBase,
    clientId: cfg.clientId,
    clientSecret: cfg.clientSecret,
    stateDir: cfg.stateDir,
    rateLimitScale: cfg.rateLimitScale,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.health ? { health: deps.health } : {}),
    ...(deps.onDeveloperExpired ? { onDeveloperExpired: deps.onDeveloperExpired } : {}),
  });
}
