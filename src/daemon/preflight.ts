// Checks made before mounting, each ending in a one-line error that says what to do: the credentials
// (user info), the API being reachable, and the mount root folder being a folder. (The mountpoint,
// /dev/fuse and fusermount are checked by fuse/mount.ts, where the platform specifics live.)
// offlineStartCause() says whether a failed check still lets the daemon mount offline over its store.

import type { Logger } from '../core/logger.js';
import type { MountConfig } from '../config/resolve.js';
import type { PanAccount, PanTree, UserInfo } from '../pan/api.js';
import { isTokenRevoked } from '../pan/auth.js';
import { isUnreachable } from '../pan/connectivity.js';
import { DEVELOPER_EXPIRED_HELP } from '../pan/developer.js';
import { ENDPOINTS } from '../pan/endpoints.js';
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

/** The one-line error, with the PanError it came from as its `cause` (run-mount decides on offline from it). */
function accountError(e: unknown, cfg: MountConfig): UserFacingError {
  const err = accountMessage(e, cfg);
  err.cause = e;
  return err;
}

function accountMessage(e: unknown, cfg: MountConfig): UserFacingError {
  if (e instanceof PanError) {
    const detail =
      `${e.message}${e.code !== undefined && !e.message.includes(`code ${e.code}`) ? ` (code ${e.code})` : ''}` +
      `${e.traceId ? ` [x-traceID ${e.traceId}]` : ''}`;
    if (isTokenRevoked(e))
      return new UserFacingError(
        `${e.message} — another tool or machine is using client ID "${cfg.clientId}"; ` +
          'pan123fs asks for a new token at most once a minute: retry then, or give each its own client ID',
      );
    if (e.kind === 'auth')
      return new UserFacingError(
        `the 123 Open API refused client ID "${cfg.clientId}": ${detail} — check --client-id and the client secret`,
      );
    if (e.kind === 'developer-expired')
      return new UserFacingError(`${DEVELOPER_EXPIRED_HELP} — the API at ${cfg.apiBase} answered: ${detail}`);
    if (e.kind === 'transport')
      return new UserFacingError(
        `cannot reach the 123 Open API at ${cfg.apiBase}: ${e.message} — check the network or --api-base`,
      );
    return new UserFacingError(`the 123 Open API at ${cfg.apiBase} answered: ${detail}`);
  }
  return new UserFacingError(`cannot check the account at ${cfg.apiBase}: ${(e as Error)?.message ?? e}`);
}

/**
 * Why the daemon may start offline after checkAccount failed with `e` (issue 16), or null: 123pan
 * unreachable (API or DNS or a gateway), or no access token for another reason than refused credentials
 * (the token endpoint failing, rate limiting, a token revoked by another client sharing the client ID, …).
 * Refused credentials and a bad root folder still end the start: they are mistakes to fix, not outages to
 * ride out.
 */
export function offlineStartCause(e: unknown): string | null {
  const cause = (e as { cause?: unknown })?.cause ?? e;
  if (!(cause instanceof PanError)) return null;
  if (isUnreachable(cause)) return cause.message;
  if (isTokenRevoked(cause)) return `no access token: ${cause.message}`;
  if (cause.endpoint === ENDPOINTS.accessToken.name && cause.kind !== 'auth' && cause.kind !== 'aborted')
    return `no access token: ${cause.message}`;
  return null;
}
