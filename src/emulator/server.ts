// Builds one emulator: data dir (a temp dir removed on close when none is given), store, model, tokens,
// limits, faults, uploads, the node:http server and the admin API; implements EmulatorHandle.
// Invariants: state is built before listen() and torn down after the server stops accepting; the
// database is closed last. Lock order: none (single-threaded; SQLite transactions never span an await).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { Counters } from './counters.js';
import { ApiError } from './errors.js';
import { Faults, validateRules } from './faults.js';
import { developerActive, dispatch } from './front.js';
import { Model } from './model.js';
import { MAX_NAME_CHARS } from './names.js';
import { RateLimiter, type RateTier } from './rate-limit.js';
import { accountRoutes } from './routes-account.js';
import { ADMIN_PREFIX, handleAdmin } from './routes-admin.js';
import { fileRoutes } from './routes-files.js';
import { transferRoutes } from './routes-transfer.js';
import { seedTree } from './seed.js';
import type { EmuState, Route } from './state.js';
import { DEFAULT_ID_BASE, Store } from './store.js';
import { Tokens } from './tokens.js';
import type {
  CompleteMode,
  EmulatorCounters,
  EmulatorHandle,
  EmulatorOptions,
  EmulatorTreeEntry,
  FaultRule,
  RateTierMode,
  RuntimeConfig,
} from './types.js';
import { Uploads } from './uploads.js';
import { Wan } from './wan.js';

export const DEFAULT_CLIENT_ID = 'pan123fs-demo';
export const DEFAULT_CLIENT_SECRET = 'pan123fs-demo-secret';
export const DEFAULT_SLICE_SIZE = 16 * 1024 * 1024; // the documented example sliceSize
export const DEFAULT_LINK_TTL_SEC = 7200; // "2 hours" per a third-party client; undocumented
export const DEFAULT_TOKEN_TTL_SEC = 30 * 86400; // 30 days (开发须知 item 5)
export const DEFAULT_UID = 1814435920;
export const DEFAULT_SPACE_PERMANENT = 2 * 1024 ** 4; // 2 TiB (choice)

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  if (i < 0) throw new TypeError(`listen must be host:port, got ${listen}`);
  const port = Number(listen.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`bad port in ${listen}`);
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

function checkConfig(c: Partial<RuntimeConfig>): Partial<RuntimeConfig> {
  const out: Partial<RuntimeConfig> = {};
  for (const k of [
    'rateLimitScale',
    'linkTtlSec',
    'completePolls',
    'downloadQuotaBytes',
    'nameMaxChars',
    'expiredLinkStatus',
    'expiredLinkHtml',
    'copyNameClash',
    'instantUpload',
    'rivalTokenEverySec',
  ] as const) {
    const v = c[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new TypeError(`${k} must be a non-negative number`);
    out[k] = v;
  }
  if (c.developerDays !== undefined) {
    if (typeof c.developerDays !== 'number' || !Number.isFinite(c.developerDays))
      throw new TypeError('developerDays must be a number (0 or less: expired)');
    out.developerDays = c.developerDays;
  }
  if (c.vip !== undefined) {
    if (c.vip !== 0 && c.vip !== 1) throw new TypeError('vip must be 0 or 1');
    out.vip = c.vip;
  }
  if (c.rateTier !== undefined) {
    if (!RATE_TIERS.includes(c.rateTier)) throw new TypeError(`rateTier must be one of ${RATE_TIERS.join(', ')}`);
    out.rateTier = c.rateTier;
  }
  if (c.completeMode !== undefined) {
    if (!COMPLETE_MODES.includes(c.completeMode))
      throw new TypeError(`completeMode must be one of ${COMPLETE_MODES.join(', ')}`);
    out.completeMode = c.completeMode;
  }
  if (c.directLinkSignedPath !== undefined) {
    if (c.directLinkSignedPath !== 'decoded' && c.directLinkSignedPath !== 'encoded')
      throw new TypeError('directLinkSignedPath must be decoded or encoded');
    out.directLinkSignedPath = c.directLinkSignedPath;
  }
  if (c.zeroByteRefuse !== undefined) {
    const paths = String(c.zeroByteRefuse)
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
    const bad = paths.filter((x) => !ZERO_BYTE_PATHS.includes(x));
    if (bad.length) throw new TypeError(`zeroByteRefuse: unknown path ${bad[0]} (${ZERO_BYTE_PATHS.join(', ')})`);
    out.zeroByteRefuse = paths.join(',');
  }
  return out;
}

export const COMPLETE_MODES: readonly CompleteMode[] = [
  'verifying',
  'not-completed',
  'message',
  'error-lands',
  'fail-lands',
  'fail',
];
export const RATE_TIERS: readonly RateTierMode[] = ['account', 'free', 'vip', 'developer'];
export const DEFAULT_DEVELOPER_DAYS = 365;
const DAY_MS = 86_400_000;

/** The QPS column enforced now (rate-limit.ts). */
function enforcedTier(s: EmuState): RateTier {
  if (s.config.rateTier !== 'account') return s.config.rateTier;
  if (developerActive(s)) return 'developer';
  return s.config.vip === 1 ? 'vip' : 'free';
}

export const ZERO_BYTE_PATHS: readonly string[] = ['reuse', 'slice', 'single'];

export class EmulatorServer implements EmulatorHandle {
  baseUrl = '';
  private readonly s: EmuState;
  private readonly routes: Route[] = [...fileRoutes(), ...transferRoutes(), ...accountRoutes()];
  private readonly http: http.Server;
  /** extra listeners that only stand for more upload hosts (uploadServers > 1) */
  private readonly extra: http.Server[] = [];
  private readonly tempDir: string | undefined;

  constructor(private readonly o: EmulatorOptions) {
    const clock = o.clock ?? systemClock;
    this.tempDir = o.dataDir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'pan123fs-emulator-'));
    const dataDir = o.dataDir ?? this.tempDir!;
    const store = new Store(dataDir, BigInt(o.idBase ?? DEFAULT_ID_BASE));
    const limiter = new RateLimiter(clock, () => enforcedTier(this.s));
    const faults = new Faults();
    faults.set(o.faults ?? []);
    let secret = store.kvGet('link_secret');
    if (!secret) {
      secret = crypto.randomBytes(32).toString('hex');
      store.kvSet('link_secret', secret);
    }
    this.s = {
      opts: {
        clientId: o.clientId ?? DEFAULT_CLIENT_ID,
        clientSecret: o.clientSecret ?? DEFAULT_CLIENT_SECRET,
        sliceSize: o.sliceSize ?? DEFAULT_SLICE_SIZE,
        tokenTtlSec: o.tokenTtlSec ?? DEFAULT_TOKEN_TTL_SEC,
        directLinkKey: o.directLinkKey,
        externalCdn: o.externalCdn,
        uid: o.uid ?? DEFAULT_UID,
        spacePermanent: o.spacePermanent ?? DEFAULT_SPACE_PERMANENT,
      },
      config: {
        rateLimitScale: 1,
        rateTier: 'account',
        developerDays: DEFAULT_DEVELOPER_DAYS,
        vip: 0,
        linkTtlSec: DEFAULT_LINK_TTL_SEC,
        completePolls: 1,
        downloadQuotaBytes: 0,
        nameMaxChars: MAX_NAME_CHARS,
        expiredLinkStatus: 403,
        expiredLinkHtml: 0,
        copyNameClash: 0,
        instantUpload: 1,
        completeMode: 'verifying',
        zeroByteRefuse: '',
        rivalTokenEverySec: 0,
        directLinkSignedPath: 'decoded',
      },
      store,
      model: new Model(store, clock, () => this.s.config.nameMaxChars),
      tokens: new Tokens(store, clock, o.tokenTtlSec ?? DEFAULT_TOKEN_TTL_SEC, {
        clientId: o.clientId ?? DEFAULT_CLIENT_ID,
        everySec: () => this.s.config.rivalTokenEverySec,
        minted: (n) => {
          this.s.counters.c.rivalTokensIssued += n;
        },
      }),
      limiter,
      faults,
      counters: new Counters(),
      uploads: new Uploads(() => this.s, dataDir),
      logger: o.logger ?? silentLogger,
      clock,
      baseUrl: '',
      uploadBases: [],
      linkSecret: Buffer.from(secret, 'hex'),
      quota: { day: '', bytes: 0 },
      wan: new Wan(o.wan ?? {}, clock),
      developer: { startAt: clock.now() - DAY_MS, endAt: clock.now() + DEFAULT_DEVELOPER_DAYS * DAY_MS },
    };
    if (this.s.opts.sliceSize < 1) throw new TypeError('sliceSize must be positive');
    this.setConfig({
      rateLimitScale: o.rateLimitScale,
      rateTier: o.rateTier,
      developerDays: o.developerDays,
      vip: o.vip,
      linkTtlSec: o.linkTtlSec,
      completePolls: o.completePolls,
      downloadQuotaBytes: o.downloadQuotaBytes,
      nameMaxChars: o.nameMaxChars,
      expiredLinkStatus: o.expiredLinkStatus,
      expiredLinkHtml: o.expiredLinkHtml,
      copyNameClash: o.copyNameClash,
      instantUpload: o.instantUpload,
      completeMode: o.completeMode,
      zeroByteRefuse: o.zeroByteRefuse,
      rivalTokenEverySec: o.rivalTokenEverySec,
      directLinkSignedPath: o.directLinkSignedPath,
    });
    const n = o.uploadServers ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new TypeError('uploadServers must be 1..16');
    this.http = http.createServer((req, res) => {
      void this.onRequest(req, res);
    });
    this.http.keepAliveTimeout = 30_000;
    for (let i = 1; i < n; i++) {
      const x = http.createServer((req, res) => {
        void this.onRequest(req, res);
      });
      x.keepAliveTimeout = 30_000;
      this.extra.push(x);
    }
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://emulator');
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (url.pathname.startsWith(ADMIN_PREFIX)) {
      return handleAdmin(
        { ...this.handleFns(), faults: () => this.s.faults.list(), config: () => ({ ...this.s.config }) },
        req,
        res,
        url,
      );
    }
    return dispatch(this.s, this.routes, req, res, url);
  }

  private handleFns() {
    return {
      counters: () => this.counters(),
      resetCounters: () => this.resetCounters(),
      setFaults: (r: FaultRule[]) => this.setFaults(r),
      setConfig: (c: Partial<RuntimeConfig>) => this.setConfig(c),
      tree: () => this.tree(),
      seed: (d: string, p?: string) => this.seed(d, p),
      enableDirectLink: (p: string) => this.enableDirectLink(p),
    };
  }

  async start(listen = '127.0.0.1:0'): Promise<this> {
    const { host, port } = parseListen(listen);
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.baseUrl = `http://${h}:${addr.port}`;
    this.s.baseUrl = this.baseUrl;
    this.s.uploadBases = [this.baseUrl];
    for (const x of this.extra) {
      await new Promise<void>((resolve, reject) => {
        x.once('error', reject);
        x.listen(0, host, () => {
          x.off('error', reject);
          resolve();
        });
      });
      this.s.uploadBases.push(`http://${h}:${(x.address() as AddressInfo).port}`);
    }
    if (this.o.seedDir) await this.seed(this.o.seedDir);
    this.s.logger.info({ op: 'emulator_start', baseUrl: this.baseUrl }, 'emulator listening');
    return this;
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.http, ...this.extra].map(
        (x) =>
          new Promise<void>((resolve) => {
            if (!x.listening) return resolve();
            x.close(() => resolve());
            x.closeAllConnections();
          }),
      ),
    );
    await this.s.uploads.drain();
    this.s.store.close();
    if (this.tempDir) fs.rmSync(this.tempDir, { recursive: true, force: true });
  }

  counters(): EmulatorCounters {
    return this.s.counters.snapshot();
  }
  resetCounters(): void {
    this.s.counters.reset();
  }
  setFaults(rules: FaultRule[]): void {
    this.s.faults.set(validateRules(rules));
  }

  setConfig(c: Partial<RuntimeConfig>): void {
    const checked = checkConfig(c);
    Object.assign(this.s.config, checked);
    this.s.limiter.scale = this.s.config.rateLimitScale;
    // days left count from the moment they are set (the end is kept, not recomputed on every answer)
    if (checked.developerDays !== undefined) {
      const now = this.s.clock.now();
      this.s.developer.endAt = now + checked.developerDays * DAY_MS;
      this.s.developer.startAt = Math.min(this.s.developer.startAt, this.s.developer.endAt - DAY_MS);
    }
  }

  tree(): EmulatorTreeEntry[] {
    const rows = this.s.model.all();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const pathOf = (id: bigint): string => {
      const segs: string[] = [];
      for (let r = byId.get(id); r; r = byId.get(r.parentId)) segs.unshift(r.name);
      return `/${segs.join('/')}`;
    };
    return rows.map((r) => ({
      id: r.id.toString(),
      path: pathOf(r.id),
      name: r.name,
      type: r.type === 1 ? 'folder' : 'file',
      size: r.size,
      md5: r.md5,
      trashed: r.trashed === 1,
      parentId: r.parentId.toString(),
      directLink: r.directLink === 1,
    }));
  }

  seed(dir: string, parentPath?: string): Promise<void> {
    if (!fs.statSync(dir).isDirectory()) throw new TypeError(`seed: ${dir} is not a directory`);
    return seedTree(this.s, dir, parentPath);
  }

  /** Create a folder directly under the root unless a live one of that name exists (CLI setup). */
  ensureRootFolder(name: string): void {
    this.s.model.ensureFolders(0n, [name]);
  }

  /** Enable the direct-link space on a folder that is a direct child of the root ("/name"). */
  enableDirectLink(folderPath: string): void {
    const segs = folderPath.split('/').filter((x) => x !== '');
    const f = this.s.model.resolve(segs);
    if (f?.type !== 1 || segs.length !== 1)
      throw new ApiError(1, `enableDirectLink: ${folderPath} is not a folder directly under the root`);
    this.s.model.setDirectLink(f.id, true);
  }
}
