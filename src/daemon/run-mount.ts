// The mount daemon's lifecycle: wiring and the stop sequence only. Start order: config → logger → API
// client + credential check (user info; 123pan unreachable with a store from an earlier run: start offline,
// pan/connectivity.ts) → metadata store → read path → writeback + upload queue
// (attached to each other) → Vfs → start-up repairs (vfs/reconcile.ts, one call: never-closed files and
// orphan staging files, the namespace intents a stop cut off, then the queue resumes its rows, fix-ups and
// strays) → FUSE mount → control socket → "ready" (one stdout line + systemd READY=1).
// Stop (SIGINT/SIGTERM, `pan123fs unmount`, or an external unmount): journal files still open with
// changes → drain uploads (bounded by --drain-timeout) → unmount → close the store. What could not be
// uploaded stays in the journal and is resumed on the next start. Offline (issue 16): every 123pan call
// goes through connectivity.gate() and fails at once while offline; probes bring the mount back, then the
// queue retries at once.

import { readFileSync } from 'node:fs';
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { UserFacingError } from '../core/user-error.js';
import type { Logger } from '../core/logger.js';
import type { MountConfig } from '../config/resolve.js';
import { openMetaDb } from '../meta/db.js';
import { NodeStore } from '../meta/node-store.js';
import { UploadJournal } from '../meta/upload-journal.js';
import { PinStore } from '../meta/pin-store.js';
import { Pins } from '../vfs/pins.js';
import { reconcileAtStart } from '../vfs/reconcile.js';
import { clientFromConfig } from './pan-client.js';
import { CdnClient } from '../pan/cdn/cdn-client.js';
import { LinkCache } from '../pan/cdn/download-urls.js';
import { PanRangeSource } from '../pan/cdn/range-source.js';
import { DownloadQuota } from '../pan/cdn/download-quota.js';
import { FileReader } from '../data/file-reader.js';
import { StagingFile, stagingDir } from '../write/staging.js';
import { UploadQueue } from '../write/upload-queue.js';
import { PanServerCopier } from '../write/server-copy.js';
import { PanVfs } from '../vfs/pan-vfs.js';
import type { StagingPort } from '../vfs/ports.js';
import { Writeback } from '../vfs/writeback.js';
import { Poller } from '../vfs/poller.js';
import { ListAhead } from '../vfs/list-ahead.js';
import { mountVfs, type FuseMount } from '../fuse/mount.js';
import { installCrashGuard } from '../fuse/crash-guard.js';
import { TokenBucket } from '../core/token-bucket.js';
import { DailyBytes, PAN_DAY_UTC_OFFSET_MINUTES } from '../core/daily-bytes.js';
import { countRangeSource } from './traffic.js';
import { checkAccount, offlineStartCause } from './preflight.js';
import { DeveloperWatch } from './developer-watch.js';
import { pickTier } from '../pan/developer.js';
import { Connectivity, offlineCause } from '../pan/connectivity.js';
import type { UserInfo } from '../pan/api.js';
import { ROOT_INO } from '../meta/node-store.js';
import { type DrainState, StagingBudget } from '../vfs/staging-budget.js';
import { limitRangeSource, limitUploads } from './limits.js';
import { notifySystemd } from './sd-notify.js';
import { ControlServer, controlSocketPath } from './control.js';
import type { DaemonStatus } from './status-types.js';
import type { Redactor } from './logger.js';
import { startDaemonWebdav } from './webdav.js';
import type { WebdavServer } from '../webdav/server.js';

export interface RunningDaemon {
  vfs: PanVfs;
  stop(reason: string): Promise<void>;
  done: Promise<number>;
}

/** mountpoint null: `serve webdav`, the same daemon without a FUSE mount */
export async function runMount(
  mountpoint: string | null,
  cfg: MountConfig,
  log: Logger,
  clock: Clock = systemClock,
  _redactor?: Redactor,
): Promise<RunningDaemon> {
  await mkdir(cfg.cacheDir, { recursive: true, mode: 0o700 });
  await mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });

  // raw: the probe's client; everything else gets `pan`, which fails at once while offline
  const conn = new Connectivity({
    clock,
    logger: log.child({ module: 'net' }),
    probe: async () => {
      setAccount(await raw.userInfo());
    },
  });
  const developer = new DeveloperWatch(clock, log.child({ module: 'pan' }));
  const raw = clientFromConfig(cfg, {
    clock,
    logger: log.child({ module: 'pan' }),
    health: conn,
    onDeveloperExpired: () => developer.refused(),
  });
  const pan = conn.gate(raw);
  const metaPath = join(cfg.cacheDir, 'meta.sqlite');
  const hadStore = await access(metaPath).then(
    () => true,
    () => false,
  );
  let account: UserInfo;
  let offlineAtStart: string | null = null;
  try {
    account = await checkAccount(raw, cfg, log);
  } catch (e) {
    offlineAtStart = hadStore ? offlineStartCause(e) : null;
    if (offlineAtStart === null) throw e; // no store to serve: fail as before, with the one-line reason
    account = OFFLINE_ACCOUNT;
  }

  const db = openMetaDb(metaPath);
  const store = new NodeStore(db);
  try {
    store.ensureRoot(cfg.rootFolderId, clock.now());
    if (offlineAtStart !== null) {
      if (store.get(ROOT_INO)?.listedAt == null)
        throw new UserFacingError(
          `${offlineAtStart} — and the store in ${cfg.cacheDir} holds no listing of the mount root to serve offline`,
        );
      account = knownAccount(store) ?? account;
      conn.enter(`at start-up: ${offlineAtStart}`);
    } else store.kvSet(ACCOUNT_KEY, JSON.stringify(account));
  } catch (e) {
    db.close();
    throw e;
  }
  function setAccount(info: UserInfo): void {
    account = info;
    store.kvSet(ACCOUNT_KEY, JSON.stringify(info));
    useTier(info);
  }
  // the QPS column of the endpoint table this account gets (pan/developer.ts), logged when it changes
  // (only when the pick changes: a column the transport stepped down from after 429s stays down)
  function useTier(info: UserInfo): void {
    developer.update(info);
    const tier = pickTier({ vip: info.vip, developerEndAt: info.developerEndAt ?? null }, clock.now());
    if (tier === pickedTier) return;
    pickedTier = tier;
    raw.setTier(tier);
    log.info({ op: 'account', tier, vip: info.vip, developerEndAt: info.developerEndAt ?? null }, `rate tier ${tier}`);
  }
  let pickedTier: string | null = null;
  useTier(account);
  const journal = new UploadJournal(db, clock);
  store.onKeep = (n) =>
    log.warn(
      { op: 'list', path: store.pathOf(n.ino) },
      'a folder is gone remotely but holds files not uploaded yet; keeping it until they are',
    );

  // THE counter of bytes fetched from the CDN today (status; the download quota is measured against it)
  const fetchedToday = new DailyBytes(clock);
  const linkMode = cfg.directLink ? 'direct' : 'download';
  // direct links do not count toward the download_info quota (they use the account's 直链流量)
  const quota =
    linkMode === 'download'
      ? new DownloadQuota({
          clock,
          logger: log.child({ module: 'read' }),
          vip: account.vip,
          fetchedToday: () => fetchedToday.today().bytes,
        })
      : undefined;
  const links = new LinkCache({ api: pan, clock, quota, logger: log.child({ module: 'read' }) });
  const cdn = new CdnClient({ clock, logger: log.child({ module: 'pan' }), health: conn });
  const signing = cfg.directLink && cfg.directLinkKey ? { key: cfg.directLinkKey, uid: account.uid } : null;
  const source = new PanRangeSource({ links, cdn: conn.gate(cdn), mode: linkMode, signing });
  const servedToday = new DailyBytes(clock);
  const counted = countRangeSource(source, fetchedToday);
  const reader = new FileReader(limitRangeSource(counted, new TokenBucket(cfg.bwlimitDown, clock)), {
    memCacheBytes: cfg.memCacheSize,
    diskCacheDir: cfg.cacheMaxSize > 0 ? join(cfg.cacheDir, 'chunks') : null,
    diskCacheBytes: cfg.cacheMaxSize,
    cacheStreams: cfg.cacheStreams,
    maxReadAheadBytes: cfg.readAheadMax,
    logger: log.child({ module: 'read' }),
    clock,
    served: servedToday,
  });

  // --staging-max-size: writers wait while uploads can drain the staging (vfs/staging-budget.ts)
  const budget: StagingBudget = new StagingBudget({
    maxBytes: cfg.stagingMaxSize,
    clock,
    logger: log.child({ module: 'vfs' }),
    drain: (): DrainState => (queue.drainable() === 0 ? 'none' : conn.offline ? 'offline' : 'yes'),
  });
  // the write path: the writeback owns local content and is the queue's upload target; attach() closes
  // the cycle (the queue is the writeback's UploadPort)
  const writeback = new Writeback({
    store,
    journal,
    staging: stagingPort(cfg.cacheDir),
    reader,
    clock,
    logger: log.child({ module: 'vfs' }),
    budget: cfg.stagingMaxSize > 0 ? budget : undefined,
  });
  const queue = new UploadQueue({
    api: limitUploads(pan, new TokenBucket(cfg.bwlimitUp, clock)),
    journal,
    target: writeback,
    clock,
    logger: log,
    concurrency: cfg.uploadConcurrency,
    sliceConcurrency: cfg.sliceConcurrency,
  });
  writeback.attach(queue);
  conn.onChange((offline) => {
    if (!offline) queue.retryNow(); // what failed while offline goes now, not after its back-off
    budget.wake(); // writers waiting for room: refused while offline
  });
  developer.onRenewed(() => queue.unblock()); // uploads parked because the rights expired go again

  const vfs = new PanVfs(
    {
      store,
      pan,
      // statfs offline: the last known figures (the store keeps them), not an error for `df`
      account: {
        userInfo: () =>
          pan.userInfo().then(
            (info) => {
              setAccount(info);
              return info;
            },
            (e) => {
              if (offlineCause(e) && account !== OFFLINE_ACCOUNT) return account;
              throw e;
            },
          ),
      },
      reader,
      writeback,
      copier: new PanServerCopier(pan, log.child({ module: 'vfs' })),
      clock,
      logger: log.child({ module: 'vfs' }),
    },
    { readOnly: cfg.readOnly, uid: cfg.uid, gid: cfg.gid, umask: cfg.umask, dirCacheTimeMs: cfg.dirCacheTimeMs },
  );

  // --poll-interval: relist the folders in use to see remote changes (vfs/poller.ts; a fifth of the list QPS)
  const poller =
    cfg.pollIntervalMs > 0
      ? new Poller({
          store,
          tree: vfs.tree,
          clock,
          logger: log.child({ module: 'vfs' }),
          intervalMs: cfg.pollIntervalMs,
          offline: () => conn.offline,
          pinnedFolders: () => pins.folders(),
        })
      : null;
  if (poller) vfs.watchFolders(poller);
  // a walk's next folders listed ahead, concurrently, within the same list QPS (vfs/list-ahead.ts)
  const ahead = new ListAhead({
    store,
    tree: vfs.tree,
    clock,
    logger: log.child({ module: 'vfs' }),
    offline: () => conn.offline,
  });
  vfs.tree.walks = ahead;

  // every start-up repair of what a stop cut off, in vfs/reconcile.ts's order: local content, namespace
  // intents, then the queue (rows, fix-ups, strays); before the mount serves
  const recovered = await reconcileAtStart({
    store,
    pan,
    writeback,
    queue,
    clock,
    logger: log.child({ module: 'vfs' }),
  });
  const pins = new Pins(store, new PinStore(db), vfs.tree, reader, clock, log.child({ module: 'vfs' }));
  pins.sync();
  vfs.onRemoteChanges((changes) => pins.followChanges(changes)); // a changed pinned file is fetched again

  installCrashGuard(log);
  let fuse: FuseMount | null = null;
  // --webdav: the second front end over the same vfs (daemon/webdav.ts)
  let webdav: WebdavServer | null = null;
  try {
    if (cfg.webdav.listen)
      webdav = await startDaemonWebdav({ cfg, vfs, db, store, links, linkMode, signing, clock, log });
    if (mountpoint !== null)
      fuse = await mountVfs(
        vfs,
        mountpoint,
        {
          readOnly: cfg.readOnly,
          allowOther: cfg.allowOther,
          uid: cfg.uid,
          gid: cfg.gid,
          attrTimeoutSec: cfg.attrTimeoutMs / 1000,
          entryTimeoutSec: cfg.attrTimeoutMs / 1000,
        },
        log.child({ module: 'fuse' }),
      );
  } catch (e) {
    await webdav?.close();
    await queue.close(); // resumed by the reconciler: no upload may touch the journal once the db is closed
    await reader.close().catch(() => undefined);
    db.close();
    throw e;
  }

  // what a listing finds changed remotely is dropped from the kernel's caches (attributes and pages)
  const mounted = fuse;
  if (mounted) vfs.setKernelCache({ invalidate: (paths) => mounted.invalidateQueued(paths) });
  poller?.start();

  const startedAt = clock.now();
  let stopping: Promise<void> | null = null;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => {
    resolveDone = r;
  });

  const where = mountpoint ?? `webdav ${webdav?.url}`;
  const status = (): DaemonStatus => ({
    mountpoint: where,
    pid: process.pid,
    startedAt,
    apiBase: cfg.apiBase,
    rootFolderId: cfg.rootFolderId,
    readOnly: cfg.readOnly,
    account: {
      uid: account.uid,
      nickname: account.nickname,
      spaceUsed: account.spaceUsed,
      spaceTotal: account.spacePermanent + account.spaceTemp,
    },
    token: raw.tokens.status(),
    developer: developer.rights(),
    rateTier: raw.tier,
    read: reader.stats(),
    streams: reader.streams(),
    traffic: {
      day: fetchedToday.today().day,
      utcOffsetMinutes: PAN_DAY_UTC_OFFSET_MINUTES,
      fetchedBytes: fetchedToday.today().bytes,
      servedBytes: servedToday.today().bytes,
      ...(quota ? { quota: quota.status() } : {}),
    },
    uploads: queue.status(),
    openHandles: vfs.openHandleCount(),
    webdav: webdav
      ? { url: webdav.url, auth: cfg.webdav.user !== undefined, readOnly: cfg.webdav.readOnly || cfg.readOnly }
      : null,
    limits: { bwlimitDown: cfg.bwlimitDown, bwlimitUp: cfg.bwlimitUp, stagingMaxSize: cfg.stagingMaxSize },
    staging: budget.status(),
    polling: poller?.status() ?? null,
    ...conn.status(),
    fuseThreads: fuse?.threadStats() ?? null,
    fuseRequests: fuse?.requestStats() ?? null,
    memory: memoryStatus(),
  });
  const control = new ControlServer(
    controlSocketPath(cfg.stateDir, mountpoint ?? `webdav:${cfg.webdav.listen?.port}`),
    {
      status,
      // drop the listings, then what the kernel caches for them (it asks again, and gets the new state)
      refresh: async (path, recursive) => {
        if (conn.offline)
          throw new Error(
            `offline since ${conn.status().offlineSince}: a refresh would drop the listings the mount serves; ` +
              'try again when 123pan answers',
          );
        const dirs = await vfs.refresh(path, recursive);
        if (fuse) await fuse.invalidate(fuse.kernelPaths(path, recursive));
        return dirs;
      },
      stop: () => {
        void stop('control: unmount');
      },
      pin: async (path, onProgress) => {
        const r = await pins.pin(path, onProgress);
        log.info({ op: 'pin', path, files: r.files, bytes: r.bytes }, 'pinned');
        return r;
      },
      unpin: (path) => pins.unpin(path),
      cache: (path, all) => pins.list(path, all),
    },
    log,
  );
  await control
    .listen()
    .catch((e) =>
      log.warn({ op: 'control', err: String(e) }, 'control socket unavailable; `pan123fs status` will not work'),
    );

  async function stop(reason: string, external = false): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      log.info({ op: 'stop', reason }, 'stopping: draining uploads');
      notifySystemd('STOPPING=1');
      await poller?.stop();
      ahead.stop();
      await webdav?.close(); // no new WebDAV uploads while draining
      const journaled = await writeback.journalOpenWrites();
      if (journaled)
        log.warn({ op: 'stop', files: journaled }, 'files still open for writing were journaled as they are');
      conn.close();
      developer.stop();
      // offline: nothing can upload; waiting for the drain timeout would only delay the stop
      const left = queue.status().totals.files;
      const drained = conn.offline ? { done: left === 0, remaining: left } : await queue.drain(cfg.drainTimeoutMs);
      if (!drained.done) {
        // why each is left (space full, refused, offline, …): the line a user reads after a stop
        const files = queue
          .status()
          .items.slice(0, 20)
          .map((i) => ({ name: i.name, state: i.state, lastError: i.lastError }));
        log.warn(
          { op: 'stop', remaining: drained.remaining, files },
          'uploads left in the journal; they resume on the next start',
        );
      }
      let code = 0;
      if (!external && fuse) {
        await fuse.unmount().catch((e) => {
          code = 1; // the exit status says so; auto_unmount removes the mount when the process is gone
          log.error(
            { op: 'unmount', mountpoint, err: String(e) },
            'unmount failed; run `fusermount -uz` on the mountpoint if it stays',
          );
        });
      }
      await queue.close();
      await writeback.close();
      await control.close();
      await reader.close();
      await cdn.close();
      db.close();
      log.info({ op: 'stop', code }, code === 0 ? 'unmounted' : 'stopped');
      resolveDone(code);
    })();
    return stopping;
  }

  fuse?.onExternalUnmount(() => {
    void stop('unmounted from outside', true);
  });
  const onSignal = (sig: NodeJS.Signals) => {
    void stop(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  developer.start(); // the line at start (a warning from 14 days before the end), then daily
  const resumed = recovered.uploads;
  log.info({ op: 'mount', mountpoint: where, resumedUploads: resumed, offline: conn.offline }, 'mounted');
  // before the ready line: whoever waits for it has seen this one too
  if (offlineAtStart !== null)
    process.stdout.write(
      `pan123fs: offline (${offlineAtStart}): serving the stored listings and the disk cache; ` +
        'uploads wait, and the mount returns to normal by itself when 123pan answers\n',
    );
  const what = cfg.rootFolderId === '0' ? 'the whole drive' : `folder ${cfg.rootFolderId}`;
  process.stdout.write(
    mountpoint === null
      ? `pan123fs: serving ${what} over WebDAV at ${webdav?.url} (ready)\n`
      : `pan123fs: mounted ${what} at ${mountpoint}${webdav ? `, WebDAV at ${webdav.url}` : ''} (ready)\n`,
  );
  notifySystemd('READY=1');
  return { vfs, stop, done };
}

/** kv key of the last user info seen (status and statfs while offline). */
const ACCOUNT_KEY = 'account';
/** Until the API answered once: status shows this account while offline with nothing stored. */
const OFFLINE_ACCOUNT: UserInfo = {
  uid: '',
  nickname: '(offline)',
  spaceUsed: 0,
  spacePermanent: 0,
  spaceTemp: 0,
  spaceTempExpireAt: 0,
  vip: false,
  directTraffic: 0,
  developerEndAt: null,
};

function knownAccount(store: NodeStore): UserInfo | undefined {
  const v = store.kvGet(ACCOUNT_KEY);
  if (!v) return undefined;
  try {
    return JSON.parse(v) as UserInfo;
  } catch {
    return undefined;
  }
}

/** Staging files under <cacheDir>/staging (write/staging.ts), as the writeback sees them. */
function stagingPort(cacheDir: string): StagingPort {
  const dir = stagingDir(cacheDir);
  return {
    create: (ino) => StagingFile.create(cacheDir, `i${ino}`),
    reopen: (path) => StagingFile.fromExisting(path),
    removePath: (path) => rm(path, { force: true }),
    list: async () => (await readdir(dir).catch(() => [] as string[])).map((name) => join(dir, name)),
  };
}

/** The daemon's memory for `status --json` (the load bench prints it at the RSS peak). VmHWM is read from
 * /proc (Linux; null elsewhere): a small synchronous read, only when status is asked for. */
function memoryStatus(): NonNullable<DaemonStatus['memory']> {
  const m = process.memoryUsage();
  let peakRss: number | null = null;
  try {
    const kb = /^VmHWM:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) peakRss = Number(kb) * 1024;
  } catch {
    /* not Linux */
  }
  return { rss: m.rss, peakRss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}
