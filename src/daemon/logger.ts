// The daemon's pino logger. Secrets are redacted by the logger itself, not by each caller
// (ARCHITECTURE.md convention 10): every string that reaches a log line — message or any nested field —
// is scrubbed of registered secret values (client secret, access tokens, direct-link keys), Bearer
// tokens, auth_key values, and the path+query of URLs (signed download/direct links), keeping only the
// scheme and host. Known secret-bearing keys are replaced outright.

import pino from 'pino';
import type { Logger } from '../core/logger.js';

const SECRET_KEYS = new Set([
  'clientsecret',
  'secret',
  'accesstoken',
  'token',
  'authorization',
  'auth_key',
  'authkey',
  'directlinkkey',
  'password',
  'downloadurl',
  'url',
  'presignedurl',
]);
const URL_RE = /\b(https?:\/\/[^/\s"'?#]+)([/?#][^\s"']*)?/gi;
const BEARER_RE = /\bBearer\s+[A-Za-z0-9._~+/=-]+/g;
const AUTH_KEY_RE = /\bauth_key=[^&\s"']+/gi;
/** access tokens are JWTs: header.payload.signature, base64url */
const JWT_RE = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;

export class Redactor {
  private readonly secrets = new Set<string>();

  /** Register a value that must never appear in a log line (ignored when too short to be specific). */
  addSecret(value: string | undefined): void {
    if (value && value.length >= 6) this.secrets.add(value);
  }

  scrubString(s: string): string {
    let out = s;
    for (const v of this.secrets) if (out.includes(v)) out = out.split(v).join('[REDACTED]');
    out = out
      .replace(BEARER_RE, 'Bearer [REDACTED]')
      .replace(AUTH_KEY_RE, 'auth_key=[REDACTED]')
      .replace(JWT_RE, '[REDACTED-TOKEN]');
    return out.replace(URL_RE, (_m, origin: string, rest?: string) =>
      rest && rest !== '/' ? `${origin}/[REDACTED]` : origin,
    );
  }

  scrub(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.scrubString(value);
    if (depth > 6 || value === null || typeof value !== 'object') return value;
    if (value instanceof Error) {
      return {
        type: value.name,
        message: this.scrubString(value.message),
        stack: value.stack ? this.scrubString(value.stack) : undefined,
        code: (value as { code?: unknown }).code,
      };
    }
    if (Array.isArray(value)) return value.map((v) => this.scrub(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] =
        SECRET_KEYS.has(k.toLowerCase()) && v !== undefined && v !== null ? '[REDACTED]' : this.scrub(v, depth + 1);
    }
    return out;
  }
}

export interface LoggerOptions {
  level: string;
  redactor: Redactor;
  /** pretty (human) output: default when stdout is a TTY */
  pretty?: boolean;
  destination?: pino.DestinationStream;
}

export function createLogger(o: LoggerOptions): Logger {
  const r = o.redactor;
  const pretty = o.pretty ?? process.stdout.isTTY === true;
  const opts: pino.LoggerOptions = {
    level: o.level,
    base: { pid: process.pid },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => r.scrub(a)) as Parameters<typeof method>;
        return method.apply(this, scrubbed);
      },
    },
    formatters: { bindings: (b) => r.scrub(b) as Record<string, unknown> },
  };
  const dest = o.destination ?? (pretty ? prettyStream(process.stdout) : pino.destination({ dest: 1, sync: false }));
  return bound(pino(opts, dest));
}

/** Methods bound to their pino instance, so `(cond ? log.info : log.warn)(…)` works like any call. */
function bound(p: pino.Logger): Logger {
  const m = (level: pino.Level) =>
    ((...a: unknown[]) => (p[level] as (...x: unknown[]) => void)(...a)) as Logger['info'];
  return {
    trace: m('trace'),
    debug: m('debug'),
    info: m('info'),
    warn: m('warn'),
    error: m('error'),
    fatal: m('fatal'),
    child: (b) => bound(p.child(b)),
  };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A small human format for terminals: `12:00:01 INFO  message key=value …` (JSON stays the default). */
function prettyStream(out: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(line: string) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line);
      } catch {
        out.write(line);
        return;
      }
      const { level, time, msg, pid: _pid, ...rest } = o;
      const t = new Date(Number(time)).toISOString().slice(11, 19);
      const extra = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(
        `${t} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${msg ?? ''}${extra ? `  ${extra}` : ''}\n`,
      );
    },
  };
}
