// The admin API under /__emulator/ (not part of 123; no auth: the emulator listens on loopback by
// default). GET counters, POST counters/reset, GET tree, GET|POST faults, GET|POST config,
// POST direct-link {path}, POST seed {dir, parentPath?}. Plain JSON (ids as strings), HTTP status codes
// for errors (400 bad input, 404 unknown path).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from './http.js';
import type { EmulatorHandle, FaultRule } from './types.js';

export const ADMIN_PREFIX = '/__emulator/';

type Admin = Omit<EmulatorHandle, 'baseUrl' | 'close'> & { faults(): FaultRule[]; config(): unknown };

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req)).toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export async function handleAdmin(a: Admin, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const key = `${req.method} ${url.pathname.slice(ADMIN_PREFIX.length)}`;
  try {
    switch (key) {
      case 'GET counters':
        return sendJson(res, 200, a.counters());
      case 'POST counters/reset':
        a.resetCounters();
        return sendJson(res, 200, { ok: true });
      case 'GET tree':
        return sendJson(res, 200, a.tree());
      case 'GET faults':
        return sendJson(res, 200, a.faults());
      case 'POST faults': {
        const b = await jsonBody(req);
        a.setFaults((Array.isArray(b) ? b : b.rules) as FaultRule[]);
        return sendJson(res, 200, { ok: true });
      }
      case 'GET config':
        return sendJson(res, 200, a.config());
      case 'POST config':
        a.setConfig(await jsonBody(req));
        return sendJson(res, 200, a.config());
      case 'POST direct-link':
        a.enableDirectLink(String((await jsonBody(req)).path ?? ''));
        return sendJson(res, 200, { ok: true });
      case 'POST seed': {
        const b = await jsonBody(req);
        await a.seed(String(b.dir ?? ''), typeof b.parentPath === 'string' ? b.parentPath : undefined);
        return sendJson(res, 200, { ok: true });
      }
      default:
        return sendJson(res, 404, { error: `unknown admin endpoint ${key}` });
    }
  } catch (e) {
    return sendJson(res, 400, { error: e instanceof Error ? e.message : String(e) });
  }
}
