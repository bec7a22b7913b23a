// Human output of `pan123fs status`: mount, account, read cache, and each upload with a progress bar.

import type { DaemonStatus } from '../daemon/status-types.js';
import { describeRights } from '../pan/developer.js';

export function humanBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

/** The 开发者权益包 line: days left and end, or why not (pan/developer.ts has the words). */
function developerLine(d: NonNullable<DaemonStatus['developer']>): string {
  const line = describeRights(d);
  return d.expired || d.expiring ? `WARNING ${line}` : line;
}

function bar(done: number, total: number, width = 24): string {
  const f = total <= 0 ? 1 : Math.min(1, done / total);
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

/** The access token's line: said when it was revoked by another client sharing the client ID. */
function tokenLine(t: DaemonStatus['token']): string | undefined {
  if (!t || t.state === 'none') return undefined;
  if (t.state === 'revoked')
    return (
      `revoked by another client at ${t.revokedAt}; next refresh at ${t.nextRefreshAt} ` +
      '(123 keeps 3 live tokens per client ID: another tool or machine uses this client ID)'
    );
  if (t.state === 'failing') return `cannot be obtained: ${t.lastError ?? 'unknown error'}`;
  const revoked = t.refused > 0 ? `; revoked ${t.refused} time(s), last at ${t.revokedAt}` : '';
  return `ok, expires ${t.expiresAt}${revoked}`;
}

export function formatStatus(s: DaemonStatus): string {
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer whose shape the caller knows
  const r = s.read as Record<string, any> | undefined;
  const lines = [
    `${s.mountpoint}  (pid ${s.pid}, ` +
      `up ${Math.round((Date.now() - s.startedAt) / 1000)} s${s.readOnly ? ', read-only' : ''})`,
    `  account   ${s.account.nickname} (uid ${s.account.uid}), ` +
      `${humanBytes(s.account.spaceUsed)} of ${humanBytes(s.account.spaceTotal)} used; ` +
      `root folder ${s.rootFolderId}; API ${s.apiBase}`,
  ];
  const tok = tokenLine(s.token);
  if (tok) lines.push(`  token     ${tok}`);
  if (s.developer)
    lines.push(`  developer ${developerLine(s.developer)}${s.rateTier ? `; rate tier ${s.rateTier}` : ''}`);
  if (s.webdav) {
    const how = [s.webdav.auth ? 'Basic auth' : 'no auth', ...(s.webdav.readOnly ? ['read-only'] : [])].join(', ');
    lines.push(`  webdav    ${s.webdav.url}/ (${how})`);
  }
  if (r) {
    const hits = Number(r.memHits ?? 0) + Number(r.diskHits ?? 0);
    const lookups = Number(r.memHits ?? 0) + Number(r.memMisses ?? 0);
    const rate = lookups > 0 ? `${((hits / lookups) * 100).toFixed(1)}%` : 'n/a';
    lines.push(
      `  cache     memory ${humanBytes(Number(r.memCacheBytes ?? 0))} ` +
        `of ${humanBytes(Number(r.memCacheMaxBytes ?? 0))}, ` +
        `disk ${humanBytes(Number(r.diskCacheBytes ?? 0))} of ${humanBytes(Number(r.diskCacheMaxBytes ?? 0))}, ` +
        `hit rate ${rate}`,
    );
    lines.push(
      `  reads     ${humanBytes(Number(r.bytesServed ?? 0))} served, ` +
        `${humanBytes(Number(r.bytesFetched ?? 0))} fetched ` +
        `in ${r.fetchRequests ?? 0} requests (${r.fetchErrors ?? 0} failed), ${r.openHandles ?? 0} open`,
    );
  }
  if (s.traffic) {
    const t = s.traffic;
    const ratio = t.servedBytes > 0 ? `, ${(t.fetchedBytes / t.servedBytes).toFixed(2)} fetched per byte served` : '';
    const q = t.quota;
    const of =
      q?.quotaBytes != null
        ? ` of the ${humanBytes(q.quotaBytes)} download quota` +
          (q.quotaSource === 'documented' ? ' (documented for non-VIP)' : '')
        : '';
    lines.push(
      `  today     ${humanBytes(t.fetchedBytes)} fetched${of}, ${humanBytes(t.servedBytes)} served${ratio} ` +
        `(${t.day}, 123pan's day)`,
    );
    if (q?.exhaustedUntil != null) {
      const until = new Date(q.exhaustedUntil + t.utcOffsetMinutes * 60_000)
        .toISOString()
        .slice(0, 16)
        .replace('T', ' ');
      lines.push(`  quota     used up (code 5113): reads answer EIO until ${until} Beijing time`);
    }
  }
  if (s.streams) {
    lines.push(`  streams   ${s.streams.length === 0 ? 'none open' : `${s.streams.length} open`}`);
    for (const st of s.streams) {
      const at = st.size > 0 ? `${((Math.min(st.position, st.size) / st.size) * 100).toFixed(0).padStart(3)}%` : '  -';
      lines.push(
        `    ${`${humanBytes(st.bytesPerSec)}/s`.padStart(12)} ${at} of ${humanBytes(st.size).padStart(10)}, ` +
          `${humanBytes(st.bytesServed)} read, window ${humanBytes(st.windowBytes)}  ${st.name}`,
      );
    }
  }
  if (s.offline) {
    const next = s.nextProbeAt ? `; next try in ${Math.max(0, Math.round((s.nextProbeAt - Date.now()) / 1000))} s` : '';
    lines.splice(
      1,
      0,
      `  OFFLINE   since ${s.offlineSince} (${s.offlineCause ?? 'unreachable'})${next}: ` +
        'listings from the store, data from the disk cache, uploads wait',
    );
  }
  if (s.limits && (s.limits.bwlimitDown > 0 || s.limits.bwlimitUp > 0)) {
    const lim = (n: number) => (n > 0 ? `${humanBytes(n)}/s` : 'unlimited');
    lines.push(`  bandwidth down ${lim(s.limits.bwlimitDown)}, up ${lim(s.limits.bwlimitUp)}`);
  }
  if (s.staging && s.staging.maxBytes > 0)
    lines.push(
      `  staging   ${humanBytes(s.staging.bytes)} of ${humanBytes(s.staging.maxBytes)} (--staging-max-size)` +
        (s.staging.waitingWriters > 0 ? `, ${s.staging.waitingWriters} writer(s) waiting for uploads` : ''),
    );
  if (s.polling) lines.push(...pollingLines(s.polling));
  const u = s.uploads;
  lines.push(
    `  uploads   ${
      u.items.length === 0
        ? 'none pending'
        : `${u.items.length} file(s), ${humanBytes(u.totals.sentBytes)} of ${humanBytes(u.totals.bytes)} sent, ` +
          `${humanBytes(u.totals.bytesPerSec)}/s`
    }`,
  );
  for (const it of u.items) {
    const err = !it.lastError
      ? ''
      : it.state === 'refused'
        ? `  not uploaded (kept locally until written again or restarted): ${it.lastError}`
        : it.state === 'blocked'
          ? `  not uploaded until the developer rights (开发者权益包) are renewed (kept locally): ${it.lastError}`
          : `  last error: ${it.lastError}`;
    lines.push(
      `    ${it.state.padEnd(13)} ${bar(it.sentBytes, it.size)} ${humanBytes(it.size).padStart(10)} ` +
        `${humanBytes(it.bytesPerSec)}/s retries ${it.attempts}  ${it.name}${err}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Polled folders shown at most (the oldest listings first); the rest are counted. */
const POLLED_SHOWN = 10;

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/** --poll-interval: each polled folder with the age of its listing and when its next poll is due. */
function pollingLines(p: NonNullable<DaemonStatus['polling']>, now = Date.now()): string[] {
  const out = [`  polling   every ${seconds(p.intervalMs)}, ${p.folders.length} folder(s)`];
  for (const f of p.folders.slice(0, POLLED_SHOWN)) {
    const age = f.listedAt === null ? 'not listed yet' : `listed ${seconds(Math.max(0, now - f.listedAt))} ago`;
    const next = f.nextPollAt <= now ? 'next poll due now' : `next poll in ${seconds(f.nextPollAt - now)}`;
    out.push(`    ${`${age}, ${next}`.padEnd(40)} ${f.path} (${f.why})`);
  }
  if (p.folders.length > POLLED_SHOWN) out.push(`    … and ${p.folders.length - POLLED_SHOWN} more`);
  return out;
}
