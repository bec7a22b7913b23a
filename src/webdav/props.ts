// PROPFIND/PROPPATCH property rendering: the live properties computed from a Vfs Stat (RFC 4918 §15,
// RFC 4331 quota), and the XML of 207 Multi-Status responses.
// Invariants: live properties are protected (PROPPATCH on them answers 403 cannot-modify-protected-property);
// the multistatus root declares only the DAV: prefix `D`, every other namespace is declared where used.

import type { Stat, StatFs } from '../vfs/types.js';
import type { Lock } from './locks.js';
import { escapeAttr, escapeText } from './xml.js';

export const DAV = 'DAV:';

export const LIVE_PROPS = [
  'creationdate',
  'displayname',
  'getcontentlength',
  'getcontenttype',
  'getetag',
  'getlastmodified',
  'resourcetype',
  'supportedlock',
  'lockdiscovery',
] as const;

/** asked for by name only (not in allprop, RFC 4331 §3) */
export const QUOTA_PROPS = ['quota-available-bytes', 'quota-used-bytes'] as const;

export function isLiveProp(ns: string, name: string): boolean {
  return (
    ns === DAV &&
    ((LIVE_PROPS as readonly string[]).includes(name) || (QUOTA_PROPS as readonly string[]).includes(name))
  );
}

const TYPES: Record<string, string> = {
  txt: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip',
  ass: 'text/x-ssa',
  vtt: 'text/vtt',
  nfo: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp3: 'audio/mpeg',
  flac: 'audio/flac',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mkv: 'video/x-matroska',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  mov: 'video/quicktime',
  ts: 'video/mp2t',
  m2ts: 'video/mp2t',
  iso: 'application/x-iso9660-image',
};

export function contentType(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && TYPES[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** the version tag: inode, size and mtime (ms), like Apache's inode-size-mtime ETags */
export function versionTag(st: Stat): string {
  return `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
}

/**
 * The ETag we send: the quoted MD5 once the file is uploaded, the version tag while it has local changes
 * (both strong). A file has both validators: a precondition naming either matches (etagsOf), so an ETag
 * a client got just before the upload committed stays valid (davfs2: LOCK, HEAD, PUT If-Match).
 */
export function etagOf(st: Stat): string {
  return st.md5 ? `"${st.md5.toLowerCase()}"` : versionTag(st);
}

export function etagsOf(st: Stat): string[] {
  return st.md5 ? [etagOf(st), versionTag(st)] : [versionTag(st)];
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function lockXml(l: Lock, href: string, now: number): string {
  const left = Math.max(0, Math.ceil((l.expiresAt - now) / 1000));
  return (
    `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${l.scope}/></D:lockscope>` +
    `<D:depth>${l.depth === 0 ? '0' : 'infinity'}</D:depth>` +
    (l.ownerXml ? `<D:owner>${l.ownerXml}</D:owner>` : '') +
    `<D:timeout>Second-${left}</D:timeout><D:locktoken><D:href>${escapeText(l.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeText(href)}</D:href></D:lockroot></D:activelock>`
  );
}

export interface LiveContext {
  name: string;
  stat: Stat;
  locks: Lock[];
  lockHref: (l: Lock) => string;
  now: number;
  statfs?: StatFs;
}

/** the inner XML of a live DAV: property, or undefined when the resource has no such property */
export function liveValue(prop: string, c: LiveContext): string | undefined {
  const st = c.stat;
  switch (prop) {
    case 'creationdate':
      return new Date(Math.min(st.ctimeMs, st.mtimeMs)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    case 'displayname':
      return escapeText(c.name);
    case 'getcontentlength':
      return st.isDir ? undefined : String(st.size);
    case 'getcontenttype':
      return st.isDir ? undefined : escapeText(contentType(c.name));
    case 'getetag':
      return st.isDir ? undefined : escapeText(etagOf(st));
    case 'getlastmodified':
      return httpDate(st.mtimeMs);
    case 'resourcetype':
      return st.isDir ? '<D:collection/>' : '';
    case 'supportedlock':
      return (
        '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
        '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>'
      );
    case 'lockdiscovery':
      return c.locks.map((l) => lockXml(l, c.lockHref(l), c.now)).join('');
    case 'quota-available-bytes':
      return c.statfs ? String(c.statfs.free) : undefined;
    case 'quota-used-bytes':
      return c.statfs ? String(c.statfs.used) : undefined;
    default:
      return undefined;
  }
}

/** `<P:name xmlns:P="ns">value</P:name>` (DAV: properties use the root's `D` prefix) */
export function propElement(ns: string, name: string, inner: string | null): string {
  if (ns === DAV) return inner === null || inner === '' ? `<D:${name}/>` : `<D:${name}>${inner}</D:${name}>`;
  const decl = ns === '' ? ' xmlns=""' : ` xmlns:P="${escapeAttr(ns)}"`;
  const q = ns === '' ? name : `P:${name}`;
  return inner === null || inner === '' ? `<${q}${decl}/>` : `<${q}${decl}>${inner}</${q}>`;
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  423: 'Locked',
  424: 'Failed Dependency',
  507: 'Insufficient Storage',
};

export function propstat(byStatus: Map<number, string[]>): string {
  let out = '';
  for (const [status, props] of byStatus) {
    if (props.length === 0) continue;
    out +=
      `<D:propstat><D:prop>${props.join('')}</D:prop>` +
      `<D:status>HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}</D:status></D:propstat>`;
  }
  return out;
}

export function multistatus(responses: string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">${responses.join('')}</D:multistatus>`;
}

export function responseXml(href: string, inner: string): string {
  return `<D:response><D:href>${escapeText(href)}</D:href>${inner}</D:response>`;
}
