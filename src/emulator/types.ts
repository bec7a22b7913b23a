// Public types of the emulator: options, fault rules, counters, tree entries. No logic lives here.
// Invariant: everything a caller of startEmulator() sees is declared in this file (index.ts re-exports).

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { WanOptions } from './wan.js';

export type { WanOptions } from './wan.js';

export type FaultKind = 'http500' | 'reset' | 'delay' | 'code' | 'revoke-tokens';

export interface FaultRule {
  /** A path prefix ("/api/v2/file/list", starts with "/"), an endpoint name ("file_list"), or "*". */
  match: string;
  kind: FaultKind;
  /** Apply at most this many times (default: unlimited). */
  count?: number;
  /** Chance (0..1) that a matching request is hit (default 1). */
  probability?: number;
  /** Skip the first N matching requests. */
  after?: number;
  /** kind 'delay': milliseconds to wait before the request proceeds normally. */
  ms?: number;
  /** kind 'code': the body code to answer, with an optional message. */
  code?: number;
  message?: string;
  /** kind 'reset' on CDN downloads: send this many body bytes, then destroy the socket. */
  afterBytes?: number;
}

/**
 * upload_complete's answers (issue 15; the real service's are uncertain). The first completePolls polls:
 * 'verifying' code 20103 (default), 'not-completed' {completed:false}, 'message' code 1 with a merging
 * message (文件处理中). Then: 'error-lands' answers code 1 服务器内部错误 on every poll while the file lands
 * anyway; 'fail-lands' answers 文件上传失败 once the file landed; 'fail' fails the merge (no file).
 */
/**
 * Which QPS column the rate limiter enforces (rate-limit.ts): 'account' (default) the one the account's
 * user/info implies — 'developer' (the 2026 column) while its developer rights run, else 'vip' or 'free'
 * (the 2025 columns); or one column whatever the account ('free' = the 2026 table does not apply).
 */
export type RateTierMode = 'account' | 'free' | 'vip' | 'developer';

export type CompleteMode = 'verifying' | 'not-completed' | 'message' | 'error-lands' | 'fail-lands' | 'fail';

export interface EmulatorOptions {
  /** 'host:port', default '127.0.0.1:0'. */
  listen?: string;
  dataDir?: string;
  seedDir?: string;
  clientId?: string;
  clientSecret?: string;
  sliceSize?: number;
  rateLimitScale?: number;
  /** QPS column enforced (RateTierMode; default 'account') */
  rateTier?: RateTierMode;
  /**
   * days of developer rights (开发者权益包) left, counted from now (default 365); 0 or less: expired that many
   * days ago, and every authenticated API call answers code 1 开发者权益已过期 (token minting still works)
   */
  developerDays?: number;
  /** 1: user/info says vip with an SVIP vipInfo entry (default 0) */
  vip?: number;
  linkTtlSec?: number;
  tokenTtlSec?: number;
  completePolls?: number;
  downloadQuotaBytes?: number;
  /** HTTP status of an expired download_info link (default 403; any 4xx a real CDN might send) */
  expiredLinkStatus?: number;
  /** 1: an expired link answers with an HTML error page (as CDNs do), 0 (default): a short text */
  expiredLinkHtml?: number;
  /** longest name accepted, in characters: 254 (default: "less than 255", strict) or 255 ("小于256") */
  nameMaxChars?: number;
  /** how upload_complete answers while the merge runs, and how it ends (CompleteMode; default 'verifying') */
  completeMode?: CompleteMode;
  /** zero-byte upload paths refused, comma-separated: 'reuse', 'slice', 'single' (default '': none) */
  zeroByteRefuse?: string;
  /**
   * upload hosts create and domain answer (default 1: the emulator's own address); more open extra
   * listeners on the same host, so a client that spreads one file's slices over hosts shows in
   * `uploadHosts`
   */
  uploadServers?: number;
  directLinkKey?: string;
  /** the path form auth_key must be signed over: 'decoded' (default) or 'encoded' (as sent); one only */
  directLinkSignedPath?: SignedPathForm;
  /**
   * file/copy into a folder that already holds the name (unknown on the real service): 0 refuses with
   * code 1 (default, strict), 1 names the copy "a(1).txt" like duplicate=1
   */
  copyNameClash?: number;
  /** 1 (default): create answers reuse when the content is stored; 0: never (every upload sends bytes) */
  instantUpload?: number;
  /**
   * another client sharing the client ID (a second tool or machine) mints a token every this many seconds
   * of emulator time, each revoking the oldest live token past 3 (default 0: none); counted in
   * rivalTokensIssued
   */
  rivalTokenEverySec?: number;
  /**
   * Benchmarks only: download_info hands out `<externalCdn>/<md5[0:2]>/<md5>-<size>`, to be served by a
   * static server (nginx with sendfile) whose root is `<dataDir>/blobs`. Such links are unsigned, never
   * expire and count toward no quota: the emulator's own CDN (the default) is the faithful one.
   */
  externalCdn?: string;
  uid?: number;
  spacePermanent?: number;
  idBase?: bigint | number;
  faults?: FaultRule[];
  /** WAN emulation (first-byte delay, per-connection and link rates, API delay); all off by default. */
  wan?: WanOptions;
  logger?: Logger;
  /** Injected time source (tests). Default: the system clock. */
  clock?: Clock;
}

export type RuntimeConfig = Required<
  Pick<
    EmulatorOptions,
    | 'rateLimitScale'
    | 'rateTier'
    | 'developerDays'
    | 'vip'
    | 'linkTtlSec'
    | 'completePolls'
    | 'downloadQuotaBytes'
    | 'nameMaxChars'
    | 'expiredLinkStatus'
    | 'expiredLinkHtml'
    | 'copyNameClash'
    | 'instantUpload'
    | 'completeMode'
    | 'zeroByteRefuse'
    | 'rivalTokenEverySec'
    | 'directLinkSignedPath'
  >
>;

export type SignedPathForm = 'decoded' | 'encoded';

export interface EmulatorCounters {
  /** Requests per endpoint name (API, upload and CDN endpoints; admin calls are not counted). */
  requests: Record<string, number>;
  /** Per endpoint, the most requests that arrived within one second (sliding window). */
  busiest: Record<string, number>;
  /** Body bytes served by the CDN paths (download_info links and direct links). */
  bytesServed: number;
  /** Of bytesServed, bytes served through direct links. */
  directLinkBytesServed: number;
  sliceBytesReceived: number;
  singleUploadBytes: number;
  instantUploadHits: number;
  /** successful file/copy calls (server-side copies) */
  copies: number;
  /** slice and single-step upload requests per Host header ('127.0.0.1:40123') */
  uploadHosts: Record<string, number>;
  tokensIssued: number;
  /** tokens minted by the rival (rivalTokenEverySec), not through access_token */
  rivalTokensIssued: number;
  rateLimited: number;
  faultsApplied: number;
}

export interface EmulatorTreeEntry {
  id: string;
  path: string;
  name: string;
  type: 'file' | 'folder';
  size: number;
  md5: string;
  trashed: boolean;
  parentId: string;
  directLink: boolean;
}

export interface EmulatorHandle {
  baseUrl: string;
  close(): Promise<void>;
  counters(): EmulatorCounters;
  resetCounters(): void;
  setFaults(rules: FaultRule[]): void;
  setConfig(c: Partial<RuntimeConfig>): void;
  tree(): EmulatorTreeEntry[];
  seed(dir: string, parentPath?: string): Promise<void>;
  enableDirectLink(folderPath: string): void;
}
