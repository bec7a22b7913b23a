// The one table of 123 Open endpoints this client calls (123open-api.md §3, §4, §5). Owns: method, path,
// host ('api' = the configured apiBase, 'upload' = a server returned by create/domain), the client-side
// QPS budget and whether a blind retry is safe. Invariant: every request in pan/ names one row here;
// nothing else in the code spells a path.
//
// QPS columns, one per rate tier (QpsTier; which one applies is picked at start, pickTier below):
//   free      = the free-user column of the 2025 developer table (§5.1);
//   vip       = its VIP column;
//   developer = the single column of the 2026 developer table (go-123pan's copy, §5.2/§11), which probably
//               applies to accounts with an active 开发者权益包 (developer rights package).
// Rows missing from a table take the OAuth-app table value or at most 5, as §5.2 recommends, the same in
// every column. The limiter multiplies by rateLimitScale; body code 429 back-off (transport.ts) stays the
// real guard when a server enforces less than the column says.

export type Host = 'api' | 'upload';
/** Which QPS column applies (see the header). */
export type QpsTier = 'free' | 'vip' | 'developer';
export const QPS_TIERS: readonly QpsTier[] = ['free', 'vip', 'developer'];
export type Method = 'GET' | 'POST' | 'PUT';

export interface EndpointSpec {
  readonly name: string;
  readonly method: Method;
  readonly path: string;
  readonly host: Host;
  /** requests per second budgeted client-side, per tier */
  readonly qps: Readonly<Record<QpsTier, number>>;
  /** true when repeating a request that may have landed cannot change the outcome */
  readonly idempotent: boolean;
  /** true for the token endpoint: no Authorization header */
  readonly noAuth?: boolean;
}

function ep(
  name: string,
  method: Method,
  path: string,
  host: Host,
  qps: number | readonly [free: number, vip: number, developer: number],
  idempotent: boolean,
  noAuth = false,
): EndpointSpec {
  const [free, vip, developer] = typeof qps === 'number' ? [qps, qps, qps] : qps;
  return { name, method, path, host, qps: { free, vip, developer }, idempotent, noAuth };
}

export const ENDPOINTS = {
  // [free, vip, developer] = §5.1 free 8, VIP 10; 2026: 10
  accessToken: ep('access_token', 'POST', '/api/v1/access_token', 'api', [8, 10, 10], true, true),
  // §5.1 free 5, VIP 10 (the v2 list row); 2026: 15
  listV2: ep('file/list.v2', 'GET', '/api/v2/file/list', 'api', [5, 10, 15], true),
  // not in any table: §5.2 says ≤ 5
  detail: ep('file/detail', 'GET', '/api/v1/file/detail', 'api', 5, true),
  // OAuth table: 10
  infos: ep('file/infos', 'POST', '/api/v1/file/infos', 'api', 10, true),
  // §5.1 free 5, VIP 20; 2026: 20. A retry that landed answers a name clash (handled by the client)
  mkdir: ep('mkdir', 'POST', '/upload/v1/file/mkdir', 'api', [5, 20, 20], false),
  // not in any table: ≤ 5; renaming to the same name twice is harmless
  rename: ep('file/name', 'PUT', '/api/v1/file/name', 'api', 5, true),
  // §5.1 free 3, VIP 10; 2026: 20. A retry that landed answers 文件已在当前文件夹中 (handled by the client)
  move: ep('file/move', 'POST', '/api/v1/file/move', 'api', [3, 10, 20], false),
  // not in any table (§11): ≤ 5; a retry that landed makes a second copy (or a clash), so no blind retry
  copy: ep('file/copy', 'POST', '/api/v1/file/copy', 'api', 5, false),
  // OAuth table: 5 (trash is our delete; the developer delete row is free 1, VIP 10, 2026 10, but that is
  // the permanent file/delete, which we never call)
  trash: ep('file/trash', 'POST', '/api/v1/file/trash', 'api', 5, true),
  // not in any table: 2 (used only to undo a trash when a rename over a file fails)
  recover: ep('file/recover', 'POST', '/api/v1/file/recover', 'api', 2, true),
  // §5.1 free 10, VIP 10; 2026: 10
  userInfo: ep('user/info', 'GET', '/api/v1/user/info', 'api', 10, true),
  // OAuth table: 5
  downloadInfo: ep('download_info', 'GET', '/api/v1/file/download_info', 'api', 5, true),
  // not in any table: ≤ 5 (OpenList uses 5)
  directLink: ep('direct-link/url', 'GET', '/api/v1/direct-link/url', 'api', 5, true),
  // OAuth table (v1 create): 5; a retried create may find its own instant upload (handled by the client)
  uploadCreate: ep('upload/create', 'POST', '/upload/v2/file/create', 'api', 5, false),
  // OAuth table (get_upload_url, the v1 per-slice call): 20; re-sending a slice replaces it
  uploadSlice: ep('upload/slice', 'POST', '/upload/v2/file/slice', 'upload', 20, true),
  // OAuth table: 20
  uploadComplete: ep('upload/complete', 'POST', '/upload/v2/file/upload_complete', 'api', 20, true),
  // not in any table: ≤ 5; called rarely (only when create returns no servers)
  uploadDomain: ep('upload/domain', 'GET', '/upload/v2/file/domain', 'api', 5, true),
  // not in any table: ≤ 5; a retry that landed may answer a name clash (duplicate unset)
  uploadSingle: ep('upload/single', 'POST', '/upload/v2/file/single/create', 'upload', 5, false),
  // account features (§3.11, §11), not in any table: ≤ 5; a repeated create makes a second share/task
  shareCreate: ep('share/create', 'POST', '/api/v1/share/create', 'api', 5, false),
  offlineDownload: ep('offline/download', 'POST', '/api/v1/offline/download', 'api', 5, false),
  offlineProgress: ep('offline/process', 'GET', '/api/v1/offline/download/process', 'api', 5, true),
} as const satisfies Record<string, EndpointSpec>;

export type EndpointName = keyof typeof ENDPOINTS;

/** Page size of v2 list: the documented maximum (§3.2). */
export const LIST_LIMIT = 100;
/** Max ids per move/trash call (§3.1). */
export const BATCH_LIMIT = 100;
/** Developer upload limits (§4.1). */
export const MAX_CREATE_SIZE = 10 * 1024 ** 3;
export const MAX_SINGLE_SIZE = 1024 ** 3;
