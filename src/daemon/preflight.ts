// Checks made before mounting, each ending in a one-line error that says what to do: the credentials
// (user info), the API being reachable, and the mount root folder being a folder. (The mountpoint,
// /dev/fuse and fusermount are checked by fuse/mount.ts, where the platform specifics live.)

import type { Logger } from '../core/logger.js';
import type { MountConfig } from '../config/resolve.js';
import type { PanAccount, PanTree, UserInfo } from '../pan/api.js';
import { PanError } from '../pan/errors.js';
import { UserFacingError } from '../core/user-error.js';

export async function checkAccount(
  pan: PanAccount & Pick<PanTree, 'detail'>,
  cfg: MountConfig,
  log: Logger,
): Promise<UserInfo> {
  let info: UserInfo;
  try {
    info = await pan.userInfo();
  } catch (e) {
    throw accountError(e, cfg);
  }
  log.info({ op: 'account', uid: info.uid, nickname: info.nickname, vip: info.vip }, 'credentials accepted');
  if (cfg.rootFolderId !== '0') {
    try {
      const root = await pan.detail(cfg.rootFolderId);
      if (!root.isDir)
        throw new UserFacingError(`--root-folder-id ${cfg.rootFolderId} is a file ("${root.name}"), not a folder`);
      if (root.trashed)
        throw new UserFacingError(
          `--root-folder-id ${cfg.rootFolderId} ("${root.name}") is in the 123 trash; ` +
            `restore it or pick another folder`,
        );
    } catch (e) {
      if (e instanceof UserFacingError) throw e;
      if (e instanceof PanError && e.kind === 'not-found')
        throw new UserFacingError(`--root-folder-id ${cfg.rootFolderId}: no such folder in this account`);
      throw accountError(e, cfg);
    }
  }
  return info;
}

function accountError(e: unknown, cfg: MountConfig): UserFacingError {
  if (e instanceof PanError) {
    const detail =
      `${e.message}${e.code !== undefined && !e.message.includes(`code ${e.code}`) ? ` (code ${e.code})` : ''}` +
      `${e.traceId ? ` [x-traceID ${e.traceId}]` : ''}`;
    if (e.kind === 'auth')
      return new UserFacingError(
        `the 123 Open API refused client ID "${cfg.clientId}": ${detail} — check --client-id and the client secret`,
      );
    if (e.kind === 'transport')
      return new UserFacingError(
        `cannot reach the 123 Open API at ${cfg.apiBase}: ${e.message} — check the network or --api-base`,
      );
    return new UserFacingError(`the 123 Open API at ${cfg.apiBase} answered: ${detail}`);
  }
  return new UserFacingError(`cannot check the account at ${cfg.apiBase}: ${(e as Error)?.message ?? e}`);
}
