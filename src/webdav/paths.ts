// Request URLs ↔ Vfs paths. Each path segment is percent-decoded as UTF-8 (Chinese, spaces, `#`, `%`,
// `+` arrive as %E4.., %20, %23, %25, %2B — `+` is a literal plus in a path, never a space); hrefs we
// send encode every byte outside RFC 3986's unreserved set, so clients that compare hrefs byte-wise
// (rclone, davfs2, Finder) find the names they asked for.
// Invariant: a Vfs path is '/' or '/a/b' (no trailing slash, no '.' or '..' segments, no empty segment).

export class BadPath extends Error {}

/** The path part of a request target or a Destination URL, decoded. Throws BadPath. */
export function urlToPath(target: string): string {
  let p = target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
    try {
      p = new URL(p).pathname;
    } catch {
      throw new BadPath(`bad URL ${JSON.stringify(target)}`);
    }
  }
  // a raw '#' never belongs to a request path (it starts a fragment, which clients must not send)
  if (p.includes('#')) throw new BadPath(`a fragment in ${JSON.stringify(target)}`);
  const q = p.indexOf('?');
  if (q >= 0) p = p.slice(0, q);
  if (!p.startsWith('/')) throw new BadPath(`not an absolute path: ${JSON.stringify(target)}`);
  const out: string[] = [];
  for (const raw of p.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new BadPath(`bad percent-encoding in ${JSON.stringify(raw)}`);
    }
    if (seg === '.' || seg === '..' || seg.includes('/') || seg.includes('\0'))
      throw new BadPath(`bad path segment ${JSON.stringify(seg)}`);
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** RFC 3986 unreserved characters stay, everything else is %XX of its UTF-8 bytes. */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The href of a Vfs path; collections end with '/'. */
export function pathToHref(path: string, isDir: boolean): string {
  if (path === '/') return '/';
  const enc = path.split('/').slice(1).map(encodeSegment).join('/');
  return `/${enc}${isDir ? '/' : ''}`;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** path is root itself or inside it */
export function isWithin(path: string, root: string): boolean {
  return path === root || root === '/' || path.startsWith(`${root}/`);
}
