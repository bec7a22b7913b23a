// The emulator's shared state object and route shape: one instance per running emulator, built by
// server.ts and passed to every route. Holds no logic.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Counters } from './counters.js';
import type { Faults } from './faults.js';
import type { Model } from './model.js';
import type { RateLimiter } from './rate-limit.js';
import type { Store } from './store.js';
import type { Tokens } from './tokens.js';
import type { FaultRule, RuntimeConfig } from './types.js';
import type { Uploads } from './uploads.js';
import type { Wan } from './wan.js';

export interface FixedOptions {
  clientId: string;
  clientSecret: string;
  sliceSize: number;
  tokenTtlSec: number;
  directLinkKey: string | undefined;
  externalCdn: string | undefined;
  uid: number;
  spacePermanent: number;
}

export interface EmuState {
  opts: FixedOptions;
  config: RuntimeConfig;
  store: Store;
  model: Model;
  tokens: Tokens;
  limiter: RateLimiter;
  faults: Faults;
  counters: Counters;
  uploads: Uploads;
  logger: Logger;
  clock: Clock;
  baseUrl: string;
  /** the upload hosts create and domain answer: baseUrl, then the extra listeners (uploadServers) */
  uploadBases: string[];
  /** HMAC key for download_info links (persisted, so links survive a restart). */
  linkSecret: Buffer;
  /** Own-download traffic for the daily quota (download_info links only). */
  quota: { day: string; bytes: number };
  /** WAN emulation (wan.ts): response delays and download pacing; inert by default. */
  wan: Wan;
  /** developerInfo of user/info (epoch ms); set from developerDays when it is configured */
  developer: { startAt: number; endAt: number };
}

export interface RouteCtx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  endpoint: string;
  /** A 'reset' fault a CDN route must apply itself (after `afterBytes` body bytes). */
  fault?: FaultRule;
}

export interface Route {
  name: string;
  method: 'GET' | 'POST' | 'PUT';
  /** Exact path, or a prefix when `prefix` is set (CDN paths). */
  path: string;
  prefix?: boolean;
  /** 'api': envelope answers, Platform + token checks; 'cdn': raw bytes, own checks. */
  kind: 'api' | 'cdn';
  auth?: boolean;
  /** API routes return `data`; CDN routes write the response themselves. */
  handle(s: EmuState, ctx: RouteCtx): Promise<unknown> | unknown;
}
