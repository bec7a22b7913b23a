// Token, download, direct-link and upload endpoints, plus the two CDN prefixes (/cdn/ for
// download_info links, /dl/ for direct links). Handlers return envelope `data` (API) or write bytes (CDN).

import { ApiError, CODE, MSG } from './errors.js';
import { queryId, readJson } from './http.js';
import { directLinkUrl, downloadUrl, requireDownloadable, serveCdn, serveDirectLink } from './downloads.js';
import type { EmuState, Route } from './state.js';
import { formatRfc3339Cst } from './time.js';

function accessToken(s: EmuState, clientId: string, secret: string): unknown {
  if (clientId !== s.opts.clientId || secret !== s.opts.clientSecret)
    throw new ApiError(CODE.generic, MSG.badCredentials);
  const t = s.tokens.issue(clientId);
  s.counters.c.tokensIssued++;
  return { accessToken: t.token, expiredAt: formatRfc3339Cst(t.expiresAt) };
}

function setDirectLink(s: EmuState, id: bigint, on: boolean): unknown {
  const f = s.model.get(id);
  if (!f || id === 0n || f.trashed) throw new ApiError(CODE.notFound, MSG.notFound);
  if (f.type !== 1 || f.parentId !== 0n) throw new ApiError(CODE.generic, '只有根目录下的文件夹可以启用直链空间'); // choice
  s.model.setDirectLink(id, on);
  return { filename: f.name };
}

export function transferRoutes(): Route[] {
  const api = (name: string, method: Route['method'], path: string, handle: Route['handle'], auth = true): Route => ({
    name,
    method,
    path,
    kind: 'api',
    auth,
    handle,
  });
  return [
    api(
      'access_token',
      'POST',
      '/api/v1/access_token',
      async (s, { req }) => {
        const b = await readJson(req);
        return accessToken(
          s,
          b.has('clientID') ? b.str('clientID') : '',
          b.has('clientSecret') ? b.str('clientSecret') : '',
        );
      },
      false,
    ),
    api('download_info', 'GET', '/api/v1/file/download_info', (s, { url }) => {
      return { downloadUrl: downloadUrl(s, requireDownloadable(s, queryId(url, 'fileId')!)) };
    }),
    api('direct_link_url', 'GET', '/api/v1/direct-link/url', (s, { url }) => {
      const f = s.model.get(queryId(url, 'fileID')!);
      if (!f || f.id === 0n) throw new ApiError(CODE.notFound, MSG.notFound);
      return { url: directLinkUrl(s, f) };
    }),
    api('direct_link_enable', 'POST', '/api/v1/direct-link/enable', async (s, { req }) =>
      setDirectLink(s, (await readJson(req)).id('fileID'), true),
    ),
    api('direct_link_disable', 'POST', '/api/v1/direct-link/disable', async (s, { req }) =>
      setDirectLink(s, (await readJson(req)).id('fileID'), false),
    ),
    api('upload_create', 'POST', '/upload/v2/file/create', async (s, { req }) => s.uploads.create(await readJson(req))),
    api('upload_slice', 'POST', '/upload/v2/file/slice', (s, { req }) => s.uploads.slice(req)),
    api('upload_complete', 'POST', '/upload/v2/file/upload_complete', async (s, { req }) =>
      s.uploads.complete(await readJson(req)),
    ),
    api('upload_domain', 'GET', '/upload/v2/file/domain', (s) => [...s.uploadBases]),
    api('upload_single', 'POST', '/upload/v2/file/single/create', (s, { req }) => s.uploads.single(req)),
    {
      name: 'cdn_download',
      method: 'GET',
      path: '/cdn/',
      prefix: true,
      kind: 'cdn',
      handle: (s, ctx) => serveCdn(s, ctx, ctx.fault),
    },
    {
      name: 'direct_link_download',
      method: 'GET',
      path: '/dl/',
      prefix: true,
      kind: 'cdn',
      handle: (s, ctx) => serveDirectLink(s, ctx, ctx.fault),
    },
  ];
}
