// The WebDAV methods (RFC 4918 class 1 and 2, RFC 9110 ranges) over the Vfs: the second front end next
// to fuse/, sharing its metadata store, caches, link cache and upload queue. Knows nothing of 123 or
// SQLite: the Vfs, the dead-property store and (redirect mode) a link port are injected.
// Invariants:
//  - no body is held in memory: GET/HEAD stream from vfs.read in CHUNK pieces with backpressure, PUT
//    streams into vfs.write (a staging file; release journals it for the upload queue), COPY streams
//    vfs.read → vfs.write. Only XML request bodies are read whole, capped at MAX_XML_BYTES.
//  - every answer to a failed Vfs call comes from one map (statusOf); the Vfs throws only FsError.
//  - locks are checked before any change; a change never happens when the If header is false (412).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as C } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { FsError, isFsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ReadViews, Stat, Vfs } from '../vfs/types.js';
import { LockManager, parseIf, parseTimeout, submittedTokens, type IfList, type Lock } from './locks.js';
import { BadPath, baseName, isWithin, joinPath, parentOf, pathToHref, urlToPath } from './paths.js';
import {
  DAV,
  LIVE_PROPS,
  QUOTA_PROPS,
  contentType,
  etagOf,
  etagsOf,
  httpDate,
  isLiveProp,
  liveValue,
  lockXml,
  multistatus,
  propElement,
  propstat,
  responseXml,
  type LiveContext,
} from './props.js';
import { parseRange, type ByteRange } from './ranges.js';
import { XmlError, child, elements, innerXml, parseXml, type XmlElement } from './xml.js';

/** 123 Open's upload limit (the Vfs answers EFBIG beyond it too; this answers before the body). */
export const MAX_UPLOAD_BYTES = 10 * 1024 ** 3;
/** read size per vfs.read while streaming a GET/COPY (bigger = fewer awaits; the read path merges) */
const CHUNK = 4 * 1024 * 1024;
/** PROPFIND/PROPPATCH/LOCK bodies are small XML */
const MAX_XML_BYTES = 1024 * 1024;

export interface DeadPropStore {
  list(ino: number): { ns: string; name: string; value: string }[];
  apply(ino: number, changes: readonly { ns: string; name: string; value: string | null }[]): void;
  copy(fromIno: number, toIno: number): void;
}

/** redirect mode: a download link for an uploaded file (null: serve it through the proxy path) */
export interface LinkPort {
  url(path: string, stat: Stat): Promise<string | null>;
}

export interface WebdavHandlerDeps {
  vfs: Vfs;
  deadProps: DeadPropStore | null;
  links?: LinkPort;
  clock: Clock;
  logger: Logger;
  readOnly: boolean;
  redirect: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** an RFC 4918 precondition element name (DAV: namespace) for the error body */
    readonly condition?: string,
  ) {
    super(message);
  }
}

/** The one FsError → HTTP status map. */
export function statusOf(e: FsError): number {
  switch (e.kind) {
    case 'ENOENT':
      return 404;
    case 'EEXIST':
      return 405;
    case 'ENOTDIR':
    case 'ENOTEMPTY':
    case 'EXDEV':
      return 409;
    case 'EISDIR':
      return 405;
    case 'EINVAL':
    case 'ENAMETOOLONG':
      return 400;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 403;
    case 'ENOSPC':
    case 'EDQUOT':
      return 507;
    case 'EFBIG':
      return 413;
    case 'EBUSY':
    case 'EAGAIN':
    case 'ENETDOWN':
      return 503;
    case 'ETIMEDOUT':
      return 504;
    case 'ENOTSUP':
    case 'ENOSYS':
      return 501;
    default:
      return 502;
  }
}

const WRITE_METHODS = new Set(['PUT', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'PROPPATCH', 'LOCK', 'UNLOCK']);

export class WebdavHandler {
  readonly locks: LockManager;

  constructor(private readonly d: WebdavHandlerDeps) {
    this.locks = new LockManager(d.clock);
  }

  allowHeader(): string {
    const read = 'OPTIONS, GET, HEAD, PROPFIND';
    return this.d.readOnly ? read : `${read}, PUT, DELETE, MKCOL, MOVE, COPY, PROPPATCH, LOCK, UNLOCK`;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    let path = '/';
    try {
      path = urlToPath(req.url ?? '/');
      if (this.d.readOnly && WRITE_METHODS.has(method)) throw new HttpError(403, 'read-only WebDAV server');
      switch (method) {
        case 'OPTIONS':
          return this.options(res);
        case 'GET':
        case 'HEAD':
          return await this.get(req, res, path, method === 'HEAD');
        case 'PROPFIND':
          return await this.propfind(req, res, path);
        case 'PROPPATCH':
          return await this.proppatch(req, res, path);
        case 'PUT':
          return await this.put(req, res, path);
        case 'DELETE':
          return await this.delete(req, res, path);
        case 'MKCOL':
          return await this.mkcol(req, res, path);
        case 'MOVE':
        case 'COPY':
          return await this.moveOrCopy(req, res, path, method === 'MOVE');
        case 'LOCK':
          return await this.lock(req, res, path);
        case 'UNLOCK':
          return await this.unlock(req, res, path);
        default:
          throw new HttpError(405, `method ${method} not allowed`);
      }
    } catch (e) {
      try {
        this.fail(req, res, method, path, e);
      } catch (e2) {
        this.d.logger.error({ op: `webdav ${method}`, path, err: String(e2) }, 'WebDAV error answer failed');
        res.destroy();
      }
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, method: string, path: string, e: unknown): void {
    let status: number;
    let text: string;
    let condition: string | undefined;
    if (e instanceof HttpError) [status, text, condition] = [e.status, e.message, e.condition];
    else if (isFsError(e)) [status, text] = [statusOf(e), e.message];
    else if (e instanceof BadPath || e instanceof XmlError) [status, text] = [400, e.message];
    else {
      [status, text] = [500, 'internal error'];
      this.d.logger.error({ op: `webdav ${method}`, path, err: String(e) }, 'WebDAV request failed');
    }
    // a cause logged once where it was found (the download quota, offline reads) is quiet here, as over FUSE
    const quiet = isFsError(e) && e.logged;
    if (status > 500 && !quiet)
      this.d.logger.warn({ op: `webdav ${method}`, path, status, err: text }, 'WebDAV request failed');
    else this.d.logger.debug({ op: `webdav ${method}`, path, status, err: text }, 'WebDAV request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 405) res.setHeader('Allow', this.allowHeader());
    // a refused request body is not read: close the connection rather than drain gigabytes
    if (!req.complete && req.headers['content-length'] !== '0') res.setHeader('Connection', 'close');
    if (condition) {
      const body = `<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:${condition}/></D:error>`;
      this.send(res, status, body, 'application/xml; charset=utf-8');
    } else this.send(res, status, `${text}\n`, 'text/plain; charset=utf-8');
  }

  private send(res: ServerResponse, status: number, body: string, type?: string): void {
    if (res.headersSent) return;
    const buf = Buffer.from(body, 'utf8');
    res.statusCode = status;
    if (type) res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', buf.length);
    res.end(buf);
  }

  private options(res: ServerResponse): void {
    res.setHeader('DAV', '1, 2');
    res.setHeader('MS-Author-Via', 'DAV');
    res.setHeader('Allow', this.allowHeader());
    res.setHeader('Accept-Ranges', 'bytes');
    res.statusCode = 200;
    res.setHeader('Content-Length', 0);
    res.end();
  }

  private async statOrNull(path: string): Promise<Stat | null> {
    try {
      return await this.d.vfs.getattr(path);
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return null;
      throw e;
    }
  }

  private async mustStat(path: string): Promise<Stat> {
    const st = await this.statOrNull(path);
    if (!st) throw new HttpError(404, `${path}: not found`);
    return st;
  }

  // ---- If header and locks ------------------------------------------------------------------------

  private ifLists(req: IncomingMessage): IfList[] | null {
    const h = req.headers.if;
    if (h === undefined) return null;
    try {
      return parseIf(String(h));
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
  }

  /** RFC 4918 §10.4: true when any list matches its resource's state (lock tokens, ETags) */
  private async evaluateIf(lists: IfList[], requestPath: string): Promise<boolean> {
    for (const list of lists) {
      let path = requestPath;
      if (list.resource !== null) {
        try {
          path = urlToPath(list.resource);
        } catch {
          continue;
        }
      }
      const st = await this.statOrNull(path);
      const covering = this.locks.covering(path);
      let ok = true;
      for (const c of list.conditions) {
        let match: boolean;
        if (c.token !== undefined) match = covering.some((l) => l.token === c.token);
        else match = st !== null && !st.isDir && etagsOf(st).some((t) => etagMatches(c.etag!, t, false));
        if (match === c.not) {
          ok = false;
          break;
        }
      }
      if (ok) return true;
    }
    return false;
  }

  /**
   * Preconditions of a change at each of `targets`: the If header holds (else 412), and every lock the
   * change touches has its token submitted (else 423).
   */
  private async checkWrite(
    req: IncomingMessage,
    targets: { path: string; subtree?: boolean; membership?: boolean }[],
  ): Promise<Set<string>> {
    const lists = this.ifLists(req);
    const tokens = lists ? submittedTokens(lists) : new Set<string>();
    if (lists && !(await this.evaluateIf(lists, targets[0]!.path)))
      throw new HttpError(412, 'the If header does not match');
    for (const t of targets) {
      for (const l of this.locks.required(t.path, t)) {
        if (!tokens.has(l.token)) throw new HttpError(423, `${t.path} is locked`, 'lock-token-submitted');
      }
    }
    return tokens;
  }

  // ---- GET / HEAD ---------------------------------------------------------------------------------

  private async get(req: IncomingMessage, res: ServerResponse, path: string, head: boolean): Promise<void> {
    const st = await this.mustStat(path);
    if (st.isDir) return this.directoryPage(res, path, head);
    const etag = etagOf(st);
    const lastModified = httpDate(st.mtimeMs);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', lastModified);
    res.setHeader('Content-Type', contentType(baseName(path)));
    if (this.notModified(req, st)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    const im = req.headers['if-match'];
    if (im !== undefined && !etagListMatches(String(im), st, true)) throw new HttpError(412, 'If-Match does not match');
    let ranges: ByteRange[] | null = null;
    const rh = req.headers.range;
    if (rh !== undefined && this.ifRangeHolds(req, st)) ranges = parseRange(String(rh), st.size);
    if (ranges && ranges.length === 0) {
      res.setHeader('Content-Range', `bytes */${st.size}`);
      throw new HttpError(416, `range not satisfiable (size ${st.size})`);
    }
    if (this.d.redirect && this.d.links && !head && st.md5) {
      const url = await this.d.links.url(path, st);
      if (url) {
        res.statusCode = 302;
        res.setHeader('Location', url);
        res.setHeader('Content-Length', 0);
        res.end();
        return;
      }
    }
    if (!ranges || (ranges.length === 1 && ranges[0]!.start === 0 && ranges[0]!.end === st.size - 1 && !rh)) {
      res.statusCode = 200;
      res.setHeader('Content-Length', st.size);
      if (head || st.size === 0) return void res.end();
      return this.stream(res, path, [{ start: 0, end: st.size - 1 }], st.size, null);
    }
    if (ranges.length === 1) {
      const r = ranges[0]!;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${r.start}-${r.end}/${st.size}`);
      res.setHeader('Content-Length', r.end - r.start + 1);
      if (head) return void res.end();
      return this.stream(res, path, ranges, st.size, null);
    }
    const boundary = `pan123fs-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    const type = contentType(baseName(path));
    const parts = ranges.map((r) => ({
      r,
      head: Buffer.from(
        `\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${st.size}\r\n\r\n`,
      ),
    }));
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const length = parts.reduce((n, p) => n + p.head.length + p.r.end - p.r.start + 1, tail.length);
    res.statusCode = 206;
    res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
    res.setHeader('Content-Length', length);
    if (head) return void res.end();
    return this.stream(
      res,
      path,
      ranges,
      st.size,
      parts.map((p) => p.head),
      tail,
    );
  }

  private notModified(req: IncomingMessage, st: Stat): boolean {
    const inm = req.headers['if-none-match'];
    if (inm !== undefined) return etagListMatches(String(inm), st, false);
    const ims = req.headers['if-modified-since'];
    if (ims !== undefined) {
      const t = Date.parse(String(ims));
      return Number.isFinite(t) && Math.floor(st.mtimeMs / 1000) <= Math.floor(t / 1000);
    }
    return false;
  }

  /** If-Range: a strong ETag match or an exact Last-Modified date, else the whole file is sent */
  private ifRangeHolds(req: IncomingMessage, st: Stat): boolean {
    const ir = req.headers['if-range'];
    if (ir === undefined) return true;
    const v = String(ir).trim();
    if (v.startsWith('"') || v.startsWith('W/')) return etagsOf(st).some((t) => etagMatches(v, t, true));
    const t = Date.parse(v);
    return Number.isFinite(t) && Math.floor(t / 1000) === Math.floor(st.mtimeMs / 1000);
  }

  /**
   * Streams ranges of the file from the Vfs with backpressure, one read ahead of the socket. The bytes go to
   * the socket as views of the read path's blocks (Vfs.readViews: no copy, no fresh buffer per chunk; each
   * chunk's views are released once the socket has written them), or, from a Vfs without it, in a fresh
   * buffer per chunk. Stops when the client goes.
   */
  private async stream(
    res: ServerResponse,
    path: string,
    ranges: ByteRange[],
    size: number,
    heads: Buffer[] | null,
    tail?: Buffer,
  ): Promise<void> {
    const vfs = this.d.vfs;
    const fh = await vfs.open(path, C.O_RDONLY);
    let gone = false;
    const onClose = () => {
      gone = true;
    };
    res.on('close', onClose);
    /** chunks handed to the socket and not written yet: released at the end if the client went first */
    const writing = new Set<ReadViews>();
    const readAt = async (pos: number, end: number): Promise<ReadViews> => {
      const len = Math.min(CHUNK, end + 1 - pos);
      let v: ReadViews;
      if (vfs.readViews) v = await vfs.readViews(path, fh, len, pos);
      else {
        const buf = Buffer.allocUnsafe(len);
        const n = await vfs.read(path, fh, buf, len, pos);
        v = { views: [buf.subarray(0, Math.max(0, n))], bytes: Math.max(0, n), release: () => undefined };
      }
      if (v.bytes <= 0) {
        v.release();
        throw new FsError('EIO', `${path}: ended at ${pos} of ${size} bytes`);
      }
      return v;
    };
    let next: Promise<ReadViews> | null = null;
    try {
      for (let i = 0; i < ranges.length && !gone; i++) {
        const r = ranges[i]!;
        if (heads && !res.write(heads[i]!)) await drained(res);
        let pos = r.start;
        next = readAt(pos, r.end);
        while (next && !gone) {
          const chunk: ReadViews = await next;
          pos += chunk.bytes;
          next = pos <= r.end ? readAt(pos, r.end) : null;
          next?.catch(() => undefined); // awaited next round; a client gone first must not leave it unhandled
          writing.add(chunk);
          let ok = true;
          res.cork(); // a chunk's views (16 blocks of 256 KiB) leave in one writev, not one write each
          chunk.views.forEach((view, k) => {
            const last = k === chunk.views.length - 1;
            ok = res.write(
              view,
              last
                ? () => {
                    writing.delete(chunk);
                    chunk.release();
                  }
                : undefined,
            );
          });
          res.uncork();
          if (!ok) await drained(res);
        }
      }
      if (!gone) {
        if (tail) res.write(tail);
        res.end();
      }
    } finally {
      res.off('close', onClose);
      next?.then((v) => v.release()).catch(() => undefined);
      // a client gone first: its socket writes no more, so nothing still reads these views
      if (gone || res.destroyed) for (const c of writing) c.release();
      await vfs.release(path, fh).catch(() => undefined);
    }
  }

  private async directoryPage(res: ServerResponse, path: string, head: boolean): Promise<void> {
    const entries = await this.d.vfs.readdir(path);
    const rows = entries
      .map((e) => {
        const href = pathToHref(joinPath(path, e.name), e.stat.isDir);
        const name = e.stat.isDir ? `${e.name}/` : e.name;
        return `<li><a href="${escapeHtml(href)}">${escapeHtml(name)}</a></li>`;
      })
      .join('\n');
    const body =
      `<!doctype html><meta charset="utf-8"><title>${escapeHtml(path)}</title>` +
      `<h1>${escapeHtml(path)}</h1><ul>\n${rows}\n</ul>\n`;
    const buf = Buffer.from(body);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Length', buf.length);
    res.end(head ? undefined : buf);
  }

  // ---- PROPFIND / PROPPATCH -----------------------------------------------------------------------

  private async propfind(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const depthH = String(req.headers.depth ?? 'infinity').trim();
    if (depthH !== '0' && depthH !== '1')
      throw new HttpError(403, 'PROPFIND with Depth: infinity is not supported', 'propfind-finite-depth');
    const body = await readXml(req);
    let mode: 'allprop' | 'propname' | 'prop' = 'allprop';
    let wanted: { ns: string; name: string }[] = [];
    if (body) {
      if (body.ns !== DAV || body.local !== 'propfind') throw new HttpError(400, 'expected <D:propfind>');
      const sel = elements(body)[0];
      if (sel?.ns === DAV && sel.local === 'propname') mode = 'propname';
      else if (sel?.ns === DAV && sel.local === 'prop') {
        mode = 'prop';
        wanted = elements(sel).map((e) => ({ ns: e.ns, name: e.local }));
      } else if (sel && !(sel.ns === DAV && sel.local === 'allprop')) throw new HttpError(400, 'bad <D:propfind>');
    }
    const st = await this.mustStat(path);
    const items: { path: string; stat: Stat }[] = [{ path, stat: st }];
    if (st.isDir && depthH === '1') {
      for (const e of await this.d.vfs.readdir(path)) items.push({ path: joinPath(path, e.name), stat: e.stat });
    }
    const needQuota = wanted.some((w) => w.ns === DAV && (QUOTA_PROPS as readonly string[]).includes(w.name));
    const statfs = needQuota ? await this.d.vfs.statfs(path).catch(() => undefined) : undefined;
    const now = this.d.clock.now();
    const out: string[] = [];
    for (const it of items) {
      const ctx: LiveContext = {
        name: it.path === '/' ? '' : baseName(it.path),
        stat: it.stat,
        locks: this.locks.covering(it.path),
        lockHref: (l) => pathToHref(l.path, l.path === it.path ? it.stat.isDir : true),
        now,
        statfs,
      };
      const dead = this.d.deadProps?.list(it.stat.ino) ?? [];
      const byStatus = new Map<number, string[]>([
        [200, []],
        [404, []],
      ]);
      if (mode === 'propname') {
        for (const p of LIVE_PROPS)
          if (liveValue(p, ctx) !== undefined) byStatus.get(200)!.push(propElement(DAV, p, null));
        for (const p of dead) byStatus.get(200)!.push(propElement(p.ns, p.name, null));
      } else if (mode === 'allprop') {
        for (const p of LIVE_PROPS) {
          const v = liveValue(p, ctx);
          if (v !== undefined) byStatus.get(200)!.push(propElement(DAV, p, v));
        }
        for (const p of dead) byStatus.get(200)!.push(propElement(p.ns, p.name, p.value));
      } else {
        for (const w of wanted) {
          const v = w.ns === DAV ? liveValue(w.name, ctx) : undefined;
          const deadV = v === undefined ? dead.find((p) => p.ns === w.ns && p.name === w.name)?.value : undefined;
          if (v !== undefined) byStatus.get(200)!.push(propElement(w.ns, w.name, v));
          else if (deadV !== undefined) byStatus.get(200)!.push(propElement(w.ns, w.name, deadV));
          else byStatus.get(404)!.push(propElement(w.ns, w.name, null));
        }
      }
      out.push(responseXml(pathToHref(it.path, it.stat.isDir), propstat(byStatus)));
    }
    this.send(res, 207, multistatus(out), 'application/xml; charset=utf-8');
  }

  private async proppatch(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const st = await this.mustStat(path);
    await this.checkWrite(req, [{ path }]);
    const body = await readXml(req);
    if (!body || body.ns !== DAV || body.local !== 'propertyupdate')
      throw new HttpError(400, 'expected <D:propertyupdate>');
    const changes: { ns: string; name: string; value: string | null; el: XmlElement }[] = [];
    for (const op of elements(body)) {
      if (op.ns !== DAV || (op.local !== 'set' && op.local !== 'remove')) continue;
      const prop = child(op, DAV, 'prop');
      if (!prop) throw new HttpError(400, `<D:${op.local}> without <D:prop>`);
      for (const p of elements(prop)) {
        changes.push({ ns: p.ns, name: p.local, value: op.local === 'set' ? deadValue(p) : null, el: p });
      }
    }
    const forbidden = changes.filter((c) => isLiveProp(c.ns, c.name));
    const ok = forbidden.length === 0 && this.d.deadProps !== null;
    if (ok) this.d.deadProps!.apply(st.ino, changes);
    const byStatus = new Map<number, string[]>([
      [200, []],
      [403, []],
      [424, []],
    ]);
    for (const c of changes) {
      const status = ok ? 200 : isLiveProp(c.ns, c.name) || this.d.deadProps === null ? 403 : 424;
      const list = byStatus.get(status)!;
      const el = propElement(c.ns, c.name, null);
      if (!list.includes(el)) list.push(el);
    }
    const inner =
      propstat(byStatus) +
      (forbidden.length > 0
        ? '<D:responsedescription>live properties are protected ' +
          '(cannot-modify-protected-property)</D:responsedescription>'
        : '');
    this.send(
      res,
      207,
      multistatus([responseXml(pathToHref(path, st.isDir), inner)]),
      'application/xml; charset=utf-8',
    );
  }

  // ---- PUT / DELETE / MKCOL -----------------------------------------------------------------------

  private async put(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/') throw new HttpError(405, 'cannot PUT the root collection');
    const len = req.headers['content-length'];
    if (len !== undefined && Number(len) > MAX_UPLOAD_BYTES) throw tooLarge(Number(len));
    if (req.headers['content-range'] !== undefined)
      throw new HttpError(400, 'PUT with Content-Range (partial update) is not supported');
    const before = await this.statOrNull(path);
    if (before?.isDir) throw new HttpError(405, `${path} is a collection`);
    const parent = await this.statOrNull(parentOf(path));
    if (!parent?.isDir) throw new HttpError(409, `${parentOf(path)} does not exist`);
    await this.checkWrite(req, [{ path, membership: before === null }]);
    const im = req.headers['if-match'];
    if (im !== undefined && (!before || !etagListMatches(String(im), before, true)))
      throw new HttpError(412, 'If-Match does not match');
    if (req.headers['if-none-match'] === '*' && before) throw new HttpError(412, `${path} exists`);
    await this.receiveInto(req, path, before === null);
    res.statusCode = before ? 204 : 201;
    res.setHeader('Content-Length', 0);
    res.end();
  }

  /** body → staging file through the Vfs; on a broken body a new file is removed again */
  private async receiveInto(req: IncomingMessage, path: string, isNew: boolean): Promise<void> {
    const vfs = this.d.vfs;
    const fh = await vfs.create(path, 0o644);
    let pos = 0;
    let failed: unknown = null;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        if (pos + chunk.length > MAX_UPLOAD_BYTES) throw tooLarge(pos + chunk.length);
        await vfs.write(path, fh, chunk, chunk.length, pos);
        pos += chunk.length;
      }
      if (!req.complete) throw new HttpError(400, 'request body ended early');
    } catch (e) {
      // the client went away mid-body ('aborted', ECONNRESET): not a server error
      failed = e instanceof HttpError || isFsError(e) ? e : new HttpError(400, `request body broke off: ${String(e)}`);
    }
    await vfs.release(path, fh).catch((e) => {
      failed ??= e;
    });
    if (failed) {
      if (isNew) await vfs.unlink(path).catch(() => undefined);
      else
        this.d.logger.warn(
          { op: 'webdav PUT', path, err: String(failed) },
          'a PUT over an existing file broke off; the file holds what arrived',
        );
      throw failed;
    }
  }

  private async delete(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/') throw new HttpError(403, 'cannot delete the root collection');
    const st = await this.mustStat(path);
    await this.checkWrite(req, [{ path, subtree: true, membership: true }]);
    await this.removeTree(path, st);
    this.locks.dropWithin(path);
    res.statusCode = 204;
    res.end();
  }

  private async removeTree(path: string, st: Stat): Promise<void> {
    if (!st.isDir) return this.d.vfs.unlink(path);
    for (const e of await this.d.vfs.readdir(path)) await this.removeTree(joinPath(path, e.name), e.stat);
    await this.d.vfs.rmdir(path);
  }

  private async mkcol(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const hasBody =
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') ||
      req.headers['transfer-encoding'] !== undefined;
    if (hasBody) throw new HttpError(415, 'MKCOL with a body is not supported');
    if (await this.statOrNull(path)) throw new HttpError(405, `${path} exists`);
    const parent = await this.statOrNull(parentOf(path));
    if (!parent?.isDir) throw new HttpError(409, `${parentOf(path)} does not exist`);
    await this.checkWrite(req, [{ path, membership: true }]);
    await this.d.vfs.mkdir(path, 0o755);
    res.statusCode = 201;
    res.setHeader('Content-Length', 0);
    res.end();
  }

  // ---- MOVE / COPY --------------------------------------------------------------------------------

  private async moveOrCopy(req: IncomingMessage, res: ServerResponse, path: string, move: boolean): Promise<void> {
    const destH = req.headers.destination;
    if (!destH) throw new HttpError(400, 'no Destination header');
    const dest = urlToPath(String(destH));
    const host = req.headers.host;
    if (/^[a-z]+:\/\//i.test(String(destH)) && host && new URL(String(destH)).host !== host)
      throw new HttpError(502, 'Destination is on another server');
    const st = await this.mustStat(path);
    if (path === '/' || dest === '/') throw new HttpError(403, 'cannot move or copy onto or from the root');
    if (dest === path) throw new HttpError(403, 'source and destination are the same');
    if (isWithin(dest, path) && st.isDir) throw new HttpError(409, 'destination is inside the source');
    const overwrite = String(req.headers.overwrite ?? 'T').toUpperCase() !== 'F';
    const depthH = String(req.headers.depth ?? 'infinity')
      .trim()
      .toLowerCase();
    if (move && st.isDir && depthH !== 'infinity')
      throw new HttpError(400, 'MOVE of a collection needs Depth: infinity');
    if (!move && depthH !== '0' && depthH !== 'infinity') throw new HttpError(400, 'COPY takes Depth 0 or infinity');
    const destParent = await this.statOrNull(parentOf(dest));
    if (!destParent?.isDir) throw new HttpError(409, `${parentOf(dest)} does not exist`);
    const existing = await this.statOrNull(dest);
    const targets = [{ path: dest, subtree: true, membership: true }];
    if (move) targets.unshift({ path, subtree: true, membership: true });
    else targets.unshift({ path, subtree: false, membership: false }); // If header evaluated on the source
    const lists = this.ifLists(req);
    if (lists && !(await this.evaluateIf(lists, path))) throw new HttpError(412, 'the If header does not match');
    const tokens = lists ? submittedTokens(lists) : new Set<string>();
    for (const t of move ? targets : targets.slice(1))
      for (const l of this.locks.required(t.path, t))
        if (!tokens.has(l.token)) throw new HttpError(423, `${t.path} is locked`, 'lock-token-submitted');
    if (existing && !overwrite) throw new HttpError(412, `${dest} exists and Overwrite is F`);
    if (existing && (existing.isDir || st.isDir || !move)) {
      await this.removeTree(dest, existing);
      this.locks.dropWithin(dest);
    }
    if (move) {
      await this.d.vfs.rename(path, dest);
      this.locks.dropWithin(path);
    } else await this.copyTree(path, st, dest, depthH === 'infinity');
    res.statusCode = existing ? 204 : 201;
    res.setHeader('Content-Length', 0);
    res.end();
  }

  private async copyTree(from: string, st: Stat, to: string, deep: boolean): Promise<void> {
    const vfs = this.d.vfs;
    if (st.isDir) {
      await vfs.mkdir(to, 0o755);
      await this.copyDeadProps(st, to);
      if (!deep) return;
      for (const e of await vfs.readdir(from))
        await this.copyTree(joinPath(from, e.name), e.stat, joinPath(to, e.name), true);
      return;
    }
    // copied on the server when the Vfs can (the mount's copy_file_range rule: an uploaded file with a known
    // MD5); else streamed through the daemon, and the upload of the copy is an instant upload
    const src = await vfs.open(from, C.O_RDONLY);
    try {
      const dst = await vfs.create(to, 0o644);
      let failed: unknown = null;
      try {
        const onServer = st.size > 0 ? await serverCopy(vfs, from, src, to, dst, st.size) : 0;
        for (let pos = onServer; pos < st.size; ) {
          const len = Math.min(CHUNK, st.size - pos);
          const buf = Buffer.allocUnsafe(len);
          const n = await vfs.read(from, src, buf, len, pos);
          if (n <= 0) throw new FsError('EIO', `${from}: ended at ${pos} of ${st.size} bytes`);
          await vfs.write(to, dst, buf, n, pos);
          pos += n;
        }
      } catch (e) {
        failed = e;
      }
      await vfs.release(to, dst).catch((e) => {
        failed ??= e;
      });
      if (failed) {
        await vfs.unlink(to).catch(() => undefined);
        throw failed;
      }
    } finally {
      await vfs.release(from, src).catch(() => undefined);
    }
    await this.copyDeadProps(st, to);
  }

  private async copyDeadProps(st: Stat, to: string): Promise<void> {
    if (!this.d.deadProps) return;
    const dst = await this.statOrNull(to);
    if (dst) this.d.deadProps.copy(st.ino, dst.ino);
  }

  // ---- LOCK / UNLOCK ------------------------------------------------------------------------------

  private async lock(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const body = await readXml(req);
    const timeoutSec = parseTimeout(req.headers.timeout === undefined ? undefined : String(req.headers.timeout));
    if (!body) return this.refreshLock(req, res, path, timeoutSec);
    if (body.ns !== DAV || body.local !== 'lockinfo') throw new HttpError(400, 'expected <D:lockinfo>');
    const scopeEl = child(body, DAV, 'lockscope');
    const scope = scopeEl && child(scopeEl, DAV, 'shared') ? 'shared' : 'exclusive';
    if (!scopeEl || (!child(scopeEl, DAV, 'shared') && !child(scopeEl, DAV, 'exclusive')))
      throw new HttpError(400, 'no <D:lockscope>');
    const typeEl = child(body, DAV, 'locktype');
    if (!typeEl || !child(typeEl, DAV, 'write')) throw new HttpError(400, 'only write locks exist');
    const owner = child(body, DAV, 'owner');
    const depthH = String(req.headers.depth ?? 'infinity')
      .trim()
      .toLowerCase();
    if (depthH !== '0' && depthH !== 'infinity') throw new HttpError(400, 'LOCK takes Depth 0 or infinity');
    let st = await this.statOrNull(path);
    // a new lock needs no token (conflicts are the lock manager's); only the If header must hold
    const lists = this.ifLists(req);
    if (lists && !(await this.evaluateIf(lists, path))) throw new HttpError(412, 'the If header does not match');
    const lock = this.locks.create({
      path,
      depth: depthH === '0' ? 0 : 'infinity',
      scope,
      ownerXml: owner ? innerXml(owner) : '',
      timeoutSec,
    });
    if (!lock) throw new HttpError(423, `${path} is locked`, 'no-conflicting-lock');
    let created = false;
    if (!st) {
      // a lock on an unmapped URL creates an empty resource (RFC 4918 §9.10.4)
      try {
        const parent = await this.statOrNull(parentOf(path));
        if (!parent?.isDir) throw new HttpError(409, `${parentOf(path)} does not exist`);
        const fh = await this.d.vfs.create(path, 0o644);
        await this.d.vfs.release(path, fh);
        st = await this.mustStat(path);
        created = true;
      } catch (e) {
        this.locks.remove(lock.token);
        throw e;
      }
    }
    res.setHeader('Lock-Token', `<${lock.token}>`);
    this.sendLock(res, created ? 201 : 200, lock, st.isDir);
  }

  private async refreshLock(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    timeoutSec: number,
  ): Promise<void> {
    const lists = this.ifLists(req);
    if (!lists) throw new HttpError(400, 'a lock refresh needs an If header with the lock token');
    const st = await this.mustStat(path);
    const covering = this.locks.covering(path);
    const lock = covering.find((l) => submittedTokens(lists).has(l.token));
    if (!lock)
      throw new HttpError(412, 'no lock of the submitted token applies here', 'lock-token-matches-request-uri');
    this.locks.refresh(lock, timeoutSec);
    this.sendLock(res, 200, lock, lock.path === path ? st.isDir : true);
  }

  private sendLock(res: ServerResponse, status: number, lock: Lock, rootIsDir: boolean): void {
    const xml =
      `<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>` +
      `${lockXml(lock, pathToHref(lock.path, rootIsDir), this.d.clock.now())}</D:lockdiscovery></D:prop>`;
    this.send(res, status, xml, 'application/xml; charset=utf-8');
  }

  private async unlock(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const h = req.headers['lock-token'];
    const m = h === undefined ? null : /^\s*<([^>]+)>\s*$/.exec(String(h));
    if (!m) throw new HttpError(400, 'UNLOCK needs a Lock-Token header');
    const lock = this.locks.get(m[1]!);
    if (!lock || !this.locks.covering(path).includes(lock))
      throw new HttpError(409, 'no such lock on this resource', 'lock-token-matches-request-uri');
    this.locks.remove(lock.token);
    res.statusCode = 204;
    res.end();
  }
}

function tooLarge(n: number): HttpError {
  return new HttpError(
    413,
    `123pan accepts files up to 10 GiB (10737418240 bytes); this upload has ${n} bytes. ` +
      `Split the file (e.g. 7z or split -b 9G) and upload the parts.`,
  );
}

function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed || res.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** a PROPPATCH <D:set> value as stored: its content as self-contained XML (text escaped) */
function deadValue(p: XmlElement): string {
  return innerXml(p);
}

async function readXml(req: IncomingMessage): Promise<XmlElement | null> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_XML_BYTES) throw new HttpError(413, `XML request bodies are limited to ${MAX_XML_BYTES} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return null;
  return parseXml(text);
}

function etagMatches(a: string, b: string, strong: boolean): boolean {
  const weakA = a.startsWith('W/');
  const weakB = b.startsWith('W/');
  if (strong && (weakA || weakB)) return false;
  return a.replace(/^W\//, '') === b.replace(/^W\//, '');
}

function etagListMatches(header: string, st: Stat, strong: boolean): boolean {
  if (header.trim() === '*') return true;
  const mine = etagsOf(st);
  return header.split(',').some((t) => mine.some((e) => etagMatches(t.trim(), e, strong)));
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The whole file copied on the server (its size), or 0 when the Vfs cannot (ENOTSUP): then stream it. */
async function serverCopy(vfs: Vfs, from: string, fi: number, to: string, fo: number, size: number): Promise<number> {
  try {
    const n = await vfs.copyFileRange(from, fi, 0, to, fo, 0, size);
    if (n !== size) throw new FsError('EIO', `${to}: server-side copy gave ${n} of ${size} bytes`);
    return n;
  } catch (e) {
    if (isFsError(e, 'ENOTSUP')) return 0;
    throw e;
  }
}
