// --webdav / `serve webdav`: starts the WebDAV front end (webdav/) over the daemon's own Vfs, with dead
// properties in the daemon's metadata store and, in redirect mode, links from its link cache. Kept apart
// from run-mount.ts so the mount's lifecycle reads the same with or without WebDAV.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MountConfig } from '../config/resolve.js';
import type { MetaDb } from '../meta/db.js';
import { DeadProps } from '../meta/dead-props.js';
import type { NodeStore } from '../meta/node-store.js';
import type { LinkCache, LinkMode, LinkSigning } from '../pan/cdn/download-urls.js';
import type { Vfs } from '../vfs/types.js';
import { startWebdavServer, type WebdavServer } from '../webdav/server.js';

export interface DaemonWebdavDeps {
  cfg: MountConfig;
  vfs: Vfs;
  db: MetaDb;
  store: NodeStore;
  links: LinkCache;
  linkMode: LinkMode;
  signing: LinkSigning | null;
  clock: Clock;
  log: Logger;
}

export async function startDaemonWebdav(d: DaemonWebdavDeps): Promise<WebdavServer> {
  return startWebdavServer(
    d.cfg.webdav,
    {
      vfs: d.vfs,
      deadProps: new DeadProps(d.db),
      links: {
        url: async (_path, st) => {
          const id = d.store.get(st.ino)?.remoteId;
          return id ? d.links.get(id, d.linkMode, d.signing) : null;
        },
      },
      clock: d.clock,
      logger: d.log.child({ module: 'webdav' }),
      readOnly: d.cfg.readOnly,
    },
    d.log.child({ module: 'webdav' }),
  );
}
