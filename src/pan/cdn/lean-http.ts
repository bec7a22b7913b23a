// LeanRangeClient: the hot path of the read side, a minimal HTTP/1.1 client for one kind of request,
// `GET url` with `Range: bytes=a-b`, whose body is copied straight into a caller-given Buffer.
//
// Why not undici here: undici (which every other request still uses) delivers a body as a stream of
// freshly allocated 64 KiB chunks; on a 2-core box that cost ~1.2 CPU-s per GiB more than this path
// (measured: 0.33 vs 1.27 CPU-s/GiB with the same pooled destinations, docs/READ-PATH.md). Here the
// socket is read with net/tls `onread`: the head (and the body bytes that arrive with it) into one
// reused buffer per connection, then the rest of the body straight into the destination — the
// `onread.buffer` function hands the kernel a view of exactly the body bytes still missing, so body
// bytes are not copied in user space at all.
//
// Scope, deliberately small: http and https, keep-alive connections pooled per origin, Content-Length
// bodies only. Anything else (chunked or length-less bodies, 1xx, an HTTP/2-only server, a malformed
// head) throws LeanUnsupported and the caller repeats the request with undici, so correctness never
// depends on this parser knowing a case. Redirects are returned to the caller to follow.
//
// Invariants: a response body is never written past `into`'s requested length; a connection is reused
// only after its response ended exactly at Content-Length (bytes beyond it in the same read destroy the
// socket; bytes a broken server sends later are read as the next response's head, which fails to parse
// → undici, or, on an idle connection, destroy it); every socket error, timeout or abort destroys the socket and
// settles the request once; URLs are never logged or put into errors (only the host).

import net from 'node:net';
import tls from 'node:tls';

/** 256 KiB socket read buffer per connection (the kernel hands over up to this much per read). */
const READ_BUFFER_BYTES = 256 << 10;
/** Response heads larger than this are refused (LeanUnsupported → undici). */
const MAX_HEAD_BYTES = 64 << 10;
/** Idle keep-alive connections are closed after this long (servers commonly allow 5–60 s). */
const IDLE_MS = 4_000;
/** Idle connections kept per origin. */
const MAX_IDLE_PER_ORIGIN = 8;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

export class LeanUnsupported extends Error {}

/** Content-Range names exactly bytes [start, end] (what RangeFetcher checks again on completion). */
function exactContentRange(v: string | undefined, start: number, end: number): boolean {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec((v ?? '').trim());
  return m !== null && Number(m[1]) === start && Number(m[2]) === end;
}

/** A socket-level failure; `code` mirrors Node's (ECONNRESET, ETIMEDOUT, …) so retry rules apply. */
export class LeanSocketError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly reused: boolean,
  ) {
    super(message);
  }
}

export interface LeanResult {
  status: number;
  /** lower-case header names; repeated headers joined with ", " */
  headers: Record<string, string>;
  /** body bytes copied into `into` (206 / exact 200) — other statuses' bodies are discarded */
  filled: number;
}

export interface LeanRequest {
  url: URL;
  start: number;
  end: number;
  /** receives the body of a 206 (or a 200 of exactly end-start+1 bytes from offset 0) at offset 0 */
  into: Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
  /** body bytes of `into` from 0 that are final, as they arrive: only for a 206 whose Content-Range is
   * exactly [start, end] (or a 200 of the whole file from 0); never called with the final count */
  onProgress?: (filled: number) => void;
}

interface Conn {
  sock: net.Socket;
  key: string;
  reused: boolean;
  idleTimer: NodeJS.Timeout | null;
  /** the request using this connection, if any */
  active: Active | null;
  /** the reused head buffer */
  readBuf: Buffer;
  /** the next socket read goes straight into the body of this request at this offset (see nextBuffer) */
  directFor: Active | null;
  directAt: number;
}

interface Active {
  req: LeanRequest;
  head: string;
  headDone: boolean;
  status: number;
  headers: Record<string, string>;
  bodyLength: number;
  bodyRead: number;
  /** copy the body into req.into (else discard it) */
  keep: boolean;
  /** the body is exactly the bytes asked for: report progress (req.onProgress) */
  report: boolean;
  closeAfter: boolean;
  resolve(r: LeanResult): void;
  reject(e: Error): void;
}

export class LeanRangeClient {
  private readonly idle = new Map<string, Conn[]>();
  private closed = false;
  /** body bytes read straight into destinations (the rest came with a head and was copied; over TLS
   *  this counts bytes decrypted into the destination, record by record) */
  readonly stats = { directBytes: 0 };

  constructor(private readonly o: { connectTimeoutMs: number; tls?: tls.ConnectionOptions }) {}

  get(req: LeanRequest): Promise<LeanResult> {
    if (this.closed) return Promise.reject(new LeanSocketError('client closed', 'UND_ERR_CLOSED', false));
    const { url } = req;
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return Promise.reject(new LeanUnsupported(`protocol ${url.protocol}`));
    if (url.username || url.password) return Promise.reject(new LeanUnsupported('credentials in URL'));
    if (req.signal?.aborted) return Promise.reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const key = `${url.protocol}//${url.host}`;
    const conn = this.takeIdle(key) ?? this.connect(url, key);
    return new Promise<LeanResult>((resolve, reject) => {
      const a: Active = {
        req,
        head: '',
        headDone: false,
        status: 0,
        headers: {},
        bodyLength: 0,
        bodyRead: 0,
        keep: false,
        report: false,
        closeAfter: false,
        resolve,
        reject,
      };
      conn.active = a;
      const onAbort = () => this.fail(conn, Object.assign(new Error('aborted'), { name: 'AbortError' }));
      if (req.signal) {
        req.signal.addEventListener('abort', onAbort, { once: true });
        const done = () => req.signal!.removeEventListener('abort', onAbort);
        a.resolve = (r) => {
          done();
          resolve(r);
        };
        a.reject = (e) => {
          done();
          reject(e);
        };
      }
      conn.sock.setTimeout(req.timeoutMs);
      const path = `${url.pathname || '/'}${url.search}`;
      conn.sock.write(
        `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nRange: bytes=${req.start}-${req.end}\r\n` +
          'Accept-Encoding: identity\r\nUser-Agent: pan123fs\r\nConnection: keep-alive\r\n\r\n',
        'latin1',
      );
    });
  }

  /** Closes every connection; in-flight requests fail. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const c of list) c.sock.destroy();
    this.idle.clear();
  }

  private takeIdle(key: string): Conn | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.idleTimer = null;
      if (!c.sock.destroyed) {
        c.reused = true;
        c.sock.ref();
        return c;
      }
    }
    return undefined;
  }

  private connect(url: URL, key: string): Conn {
    const readBuf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    // eslint-disable-next-line prefer-const
    let conn: Conn;
    const onread = {
      buffer: () => (conn ? this.nextBuffer(conn) : readBuf),
      callback: (n: number, buf: Uint8Array) => {
        this.onData(conn, buf as Buffer, n);
        return true;
      },
    };
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const sock =
      url.protocol === 'https:'
        ? tls.connect({
            ...this.o.tls,
            host,
            port,
            servername: net.isIP(host) ? undefined : host,
            onread,
            ALPNProtocols: ['http/1.1'],
          } as tls.ConnectionOptions)
        : net.connect({ host, port, onread });
    sock.setNoDelay(true);
    conn = { sock, key, reused: false, idleTimer: null, active: null, readBuf, directFor: null, directAt: 0 };
    const connectTimer = setTimeout(
      () => this.fail(conn, new LeanSocketError('connect timeout', 'UND_ERR_CONNECT_TIMEOUT', false)),
      this.o.connectTimeoutMs,
    );
    connectTimer.unref();
    sock.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    sock.on('timeout', () =>
      this.fail(conn, new LeanSocketError('no data before the timeout', 'ETIMEDOUT', conn.reused)),
    );
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      this.fail(conn, new LeanSocketError(e.message, e.code ?? 'ECONNRESET', conn.reused));
    });
    sock.on('close', () => {
      clearTimeout(connectTimer);
      this.drop(conn);
      this.fail(conn, new LeanSocketError('connection closed by the server', 'ECONNRESET', conn.reused));
    });
    sock.on('end', () => sock.destroy());
    return conn;
  }

  /**
   * Where the next socket read lands (called by net after every read): inside a kept body, a view of
   * the destination covering exactly the bytes still missing (the kernel cannot read past it, so the
   * next response's bytes never land in `into`); otherwise the connection's head buffer.
   */
  private nextBuffer(conn: Conn): Buffer {
    const a = conn.active;
    if (a?.headDone && a.keep && a.bodyRead < a.bodyLength) {
      conn.directFor = a;
      conn.directAt = a.bodyRead;
      return a.req.into.subarray(a.bodyRead, a.bodyLength);
    }
    conn.directFor = null;
    return conn.readBuf;
  }

  private onData(conn: Conn, buf: Buffer, n: number): void {
    const a = conn.active;
    if (buf !== conn.readBuf) {
      // a read straight into a body (nextBuffer): the bytes are already in place
      if (!a || conn.directFor !== a || conn.directAt !== a.bodyRead || n > a.bodyLength - a.bodyRead) {
        this.fail(conn, new LeanSocketError('body read into a stale destination', 'ECONNRESET', conn.reused));
        return;
      }
      a.bodyRead += n;
      this.stats.directBytes += n;
      if (a.bodyRead === a.bodyLength) this.finish(conn, a, false);
      else if (a.report) a.req.onProgress!(a.bodyRead);
      return;
    }
    if (!a) {
      conn.sock.destroy();
      return;
    } // bytes nobody asked for: the connection is unusable
    let off = 0;
    if (!a.headDone) {
      let head: string;
      if (a.head === '') {
        // usual case: the whole head is in the first read; decode only the head, not the body after it
        const end = buf.subarray(0, n).indexOf(HEAD_END);
        if (end < 0) {
          a.head = buf.toString('latin1', 0, n);
          return;
        }
        head = buf.toString('latin1', 0, end);
        off = end + 4;
      } else {
        a.head += buf.toString('latin1', 0, n);
        const end = a.head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (a.head.length > MAX_HEAD_BYTES) this.fail(conn, new LeanUnsupported('response head too large'));
          return;
        }
        off = n - (a.head.length - (end + 4));
        head = a.head.slice(0, end);
      }
      try {
        this.parseHead(a, head);
      } catch (e) {
        this.fail(conn, e as Error);
        return;
      }
      a.head = '';
      a.headDone = true;
      // Only a body we keep is read; for anything else (errors, redirects, wrong lengths) the head is
      // all the caller needs, and dropping the connection is cheaper than reading an unknown body.
      if (!a.keep) {
        a.closeAfter = true;
        this.finish(conn, a, false);
        return;
      }
      if (a.bodyLength === 0) {
        this.finish(conn, a, off < n);
        return;
      }
    }
    const avail = n - off;
    const take = Math.min(avail, a.bodyLength - a.bodyRead);
    if (a.keep) buf.copy(a.req.into, a.bodyRead, off, off + take);
    a.bodyRead += take;
    if (a.bodyRead === a.bodyLength) this.finish(conn, a, take < avail);
    else if (a.report && take > 0) a.req.onProgress!(a.bodyRead);
  }

  private parseHead(a: Active, head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!m) throw new LeanUnsupported('not an HTTP/1.x response');
    a.status = Number(m[2]);
    if (a.status < 200) throw new LeanUnsupported(`HTTP ${a.status}`); // 1xx: rare for GET; undici handles it
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const c = line.indexOf(':');
      if (c <= 0) throw new LeanUnsupported('malformed header line');
      const name = line.slice(0, c).trim().toLowerCase();
      const value = line.slice(c + 1).trim();
      a.headers[name] = name in a.headers ? `${a.headers[name]}, ${value}` : value;
    }
    const te = a.headers['transfer-encoding'];
    if (te !== undefined && te.toLowerCase() !== 'identity') throw new LeanUnsupported(`transfer-encoding ${te}`);
    const cl = a.headers['content-length'];
    if (cl === undefined || !/^\d+$/.test(cl)) {
      if (a.status === 204 || a.status === 304) {
        a.bodyLength = 0;
      } else throw new LeanUnsupported('no content-length');
    } else {
      a.bodyLength = Number(cl);
    }
    const want = a.req.end - a.req.start + 1;
    a.keep = (a.status === 206 || (a.status === 200 && a.req.start === 0)) && a.bodyLength === want;
    // a 200 of another length (a server ignoring Range): undici's path knows the whole-file fallback
    if (a.status === 200 && !a.keep) throw new LeanUnsupported('200 with a different length');
    a.report =
      a.keep &&
      a.req.onProgress !== undefined &&
      (a.status === 200 || exactContentRange(a.headers['content-range'], a.req.start, a.req.end));
    const connection = (a.headers.connection ?? '').toLowerCase();
    if (m[1] === '0' ? !connection.includes('keep-alive') : connection.includes('close')) a.closeAfter = true;
  }

  private finish(conn: Conn, a: Active, extraBytes: boolean): void {
    conn.active = null;
    const result: LeanResult = { status: a.status, headers: a.headers, filled: a.keep ? a.bodyRead : 0 };
    if (a.closeAfter || extraBytes || this.closed) conn.sock.destroy();
    else this.park(conn);
    a.resolve(result);
  }

  /** Back to the idle list of its origin (bounded), closed after IDLE_MS unused. */
  private park(conn: Conn): void {
    conn.sock.setTimeout(0);
    const list = this.idle.get(conn.key) ?? [];
    if (list.length >= MAX_IDLE_PER_ORIGIN) {
      conn.sock.destroy();
      return;
    }
    list.push(conn);
    this.idle.set(conn.key, list);
    conn.sock.unref();
    conn.idleTimer = setTimeout(() => {
      conn.idleTimer = null;
      conn.sock.destroy();
    }, IDLE_MS);
    conn.idleTimer.unref();
  }

  private drop(conn: Conn): void {
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
    const list = this.idle.get(conn.key);
    const i = list ? list.indexOf(conn) : -1;
    if (i >= 0) list!.splice(i, 1);
  }

  private fail(conn: Conn, e: Error): void {
    const a = conn.active;
    conn.active = null;
    this.drop(conn);
    conn.sock.destroy();
    a?.reject(e);
  }
}
