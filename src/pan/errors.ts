// PanError: everything the 123 Open client can fail with. `code` is the body code (or an HTTP status when
// the failure was at the HTTP level), `traceId` is the envelope's x-traceID. vfs/classify.ts is the one
// place a PanError becomes an FsError.

export type PanErrorKind =
  | 'api' // non-zero body code that is not one of the below
  | 'auth' // 401 / token could not be obtained
  | 'rate-limited' // 429 still after retries
  | 'not-found' // 5066
  | 'quota' // 5113 download traffic exceeded
  | 'name-clash' // code 1 with a duplicate-name message
  | 'invalid-name' // refused name (locally or by the server)
  | 'too-large' // over the 10 GiB (create) / 1 GiB (single) limits
  | 'space' // account storage full
  | 'link-expired' // download link answered a 4xx other than 416/429
  | 'range' // 416 / bad Content-Range / short body
  | 'upload-failed' // upload_complete final failure (文件上传失败)
  | 'direct-link' // direct link unavailable (no direct-link space, e.g. at the root folder)
  | 'developer-expired' // the developer rights (开发者权益包) ended: every call is refused until renewed
  | 'transport' // connection reset, timeout, 5xx after retries, bad JSON
  | 'aborted';

export class PanError extends Error {
  readonly kind: PanErrorKind;
  readonly code?: number;
  readonly traceId?: string;
  readonly endpoint?: string;
  readonly retryable: boolean;
  /** a transport failure that was a timeout (connect, headers, body, idle socket): ETIMEDOUT, not EIO */
  readonly timedOut: boolean;
  /** already logged where it was found (e.g. the one "download quota reached" line): adapters log it quietly */
  readonly logged: boolean;
  override readonly cause?: unknown;
  constructor(opts: {
    kind: PanErrorKind;
    message: string;
    code?: number;
    traceId?: string;
    endpoint?: string;
    retryable?: boolean;
    timedOut?: boolean;
    logged?: boolean;
    cause?: unknown;
  }) {
    super(opts.message);
    this.name = 'PanError';
    this.kind = opts.kind;
    this.code = opts.code;
    this.traceId = opts.traceId;
    this.endpoint = opts.endpoint;
    this.retryable = opts.retryable ?? false;
    this.timedOut = opts.timedOut ?? false;
    this.logged = opts.logged ?? false;
    this.cause = opts.cause;
  }
}

export function isPanError(e: unknown, kind?: PanErrorKind): e is PanError {
  return e instanceof PanError && (kind === undefined || e.kind === kind);
}
