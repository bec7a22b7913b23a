// The request pipeline for every 123 endpoint, in this order: route lookup → request counter → WAN delay (wan.ts, when
// configured) → fault rule → (API only) Platform header → token → developer rights → rate limit → handler →
// envelope. CDN routes get
// faults and then serve bytes themselves. Anything unexpected becomes HTTP 500 and one error log line (method and
// pathname only: query strings may carry signatures).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, CODE, defaultMessage, MSG } from './errors.js';
import { isApiError, sendEnvelope, sendOk } from './http.js';
import { plain } from './downloads.js';
import type { EmuState, Route, RouteCtx } from './state.js';

/** Developer rights run: every authenticated call is served (gate() refuses them otherwise). */
export function developerActive(s: EmuState): boolean {
  return s.clock.now() < s.developer.endAt;
}

export function findRoute(routes: Route[], pathname: string): Route | undefined {
  return routes.find((r) => (r.prefix ? pathname.startsWith(r.path) : pathname === r.path));
}

export async function dispatch(
  s: EmuState,
  routes: Route[],
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const route = findRoute(routes, url.pathname);
  if (!route) return plain(res, 404, '404 page not found');
  const methodOk = req.method === route.method || (route.kind === 'cdn' && req.method === 'HEAD');
  if (!methodOk) return plain(res, 405, '405 method not allowed');
  s.counters.request(route.name, s.clock.now());
  const wait = s.wan.responseDelay(route.kind); // WAN emulation (wan.ts): null unless configured
  if (wait) await wait;
  const ctx: RouteCtx = { req, res, url, endpoint: route.name };
  const fault = s.faults.pick(route.name, url.pathname);
  if (fault) {
    s.counters.c.faultsApplied++;
    s.logger.debug({ op: route.name, fault: fault.kind }, 'fault injected');
    switch (fault.kind) {
      case 'http500':
        return plain(res, 500, 'Internal Server Error');
      case 'reset':
        if (route.kind === 'cdn' && fault.afterBytes !== undefined) {
          ctx.fault = fault;
          break;
        }
        req.socket.destroy();
        return;
      case 'delay':
        await s.clock.sleep(fault.ms ?? 0);
        break;
      case 'code':
        if (fault.code === CODE.tooFrequent) s.counters.c.rateLimited++;
        return sendEnvelope(res, fault.code!, fault.message ?? defaultMessage(fault.code!), null);
      case 'revoke-tokens':
        s.tokens.revokeAll();
        break;
    }
  }
  try {
    if (route.kind === 'cdn') {
      await route.handle(s, ctx);
      return;
    }
    gate(s, route, req);
    sendOk(res, await route.handle(s, ctx));
  } catch (e) {
    if (isApiError(e)) {
      if (e.code === CODE.tooFrequent) s.counters.c.rateLimited++;
      return sendEnvelope(res, e.code, e.message, null);
    }
    s.logger.error(
      { op: route.name, method: req.method, path: url.pathname, err: String(e) },
      'emulator handler failed',
    );
    if (!res.headersSent) plain(res, 500, 'Internal Server Error');
    else res.destroy();
  }
}

/** Platform header, token, rate limit; throws ApiError. */
function gate(s: EmuState, route: Route, req: IncomingMessage): void {
  if (req.headers.platform !== 'open_platform') throw new ApiError(CODE.generic, MSG.platformMissing);
  if (route.auth !== false) {
    const check = s.tokens.check(req.headers.authorization);
    if (check !== 'ok')
      throw new ApiError(CODE.unauthorized, check === 'missing' ? MSG.tokenMissing : MSG.tokenExpired);
    // choice (docs/EMULATOR.md): after developerInfo.endTime every authenticated call answers code 1
    if (!developerActive(s)) throw new ApiError(CODE.generic, MSG.developerExpired);
  }
  // One account per emulator: the window is per endpoint (the token endpoint: per client address).
  const key = route.auth === false ? (req.socket.remoteAddress ?? '') : 'account';
  if (!s.limiter.admit(route.name, key)) throw new ApiError(CODE.tooFrequent, MSG.tooFrequent);
}
