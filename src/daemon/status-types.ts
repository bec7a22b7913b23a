// What `pan123fs status --json` prints: the daemon's view of itself, served over the control socket.

import type { StreamStats } from '../data/file-reader.js';
import type { TokenStatus } from '../pan/auth.js';
import type { DownloadQuotaStatus } from '../pan/cdn/download-quota.js';
import type { PollerStatus } from '../vfs/poller.js';

export interface DaemonStatus {
  mountpoint: string;
  pid: number;
  startedAt: number;
  apiBase: string;
  rootFolderId: string;
  readOnly: boolean;
  account: { uid: string; nickname: string; spaceUsed: number; spaceTotal: number };
  /** the access token: in use, or revoked by another client sharing the client ID (and when), or failing */
  token?: TokenStatus;
  /** the developer rights (开发者权益包): end (epoch ms, null without developerInfo), whole days left, expired
   * (the end passed, or the server refused a call for it), expiring (within 14 days) */
  developer?: { endAt: number | null; daysLeft: number | null; expired: boolean; expiring: boolean };
  /** the QPS column of the endpoint table in use: free, vip (2025 columns) or developer (2026) */
  rateTier?: string;
  read: unknown;
  /** open read streams: what each read and how fast (bytes per second over the last 5 s) */
  streams?: StreamStats[];
  /** today on 123pan's day (Beijing time): bytes fetched from the CDN (what the daily download quota counts;
   * this daemon's share, from its start) and bytes served to readers */
  traffic?: {
    day: string;
    utcOffsetMinutes: number;
    fetchedBytes: number;
    servedBytes: number;
    /** reads through download_info links only (not --direct-link): the daily quota (code 5113) */
    quota?: DownloadQuotaStatus;
  };
  uploads: {
    items: Array<{
      ino: number;
      name: string;
      size: number;
      sentBytes: number;
      state: string;
      attempts: number;
      lastError: string | null;
      bytesPerSec: number;
    }>;
    totals: {
      files: number;
      bytes: number;
      sentBytes: number;
      bytesPerSec: number;
      unproven?: number;
      /** committed uploads whose rename fix-up is journaled and not done yet */
      fixups?: number;
    };
  };
  openHandles: number;
  /** --webdav: where the WebDAV front end listens (null when it is off) */
  webdav?: { url: string; auth: boolean; readOnly: boolean } | null;
  /** --bwlimit-down / --bwlimit-up in bytes per second, --staging-max-size in bytes; 0 = none */
  limits?: { bwlimitDown: number; bwlimitUp: number; stagingMaxSize?: number };
  /** bytes of the staging files (content not uploaded yet) and writers waiting for --staging-max-size */
  staging?: { bytes: number; maxBytes: number; waitingWriters: number };
  /**
   * --poll-interval (vfs/poller.ts): the folders polled for remote changes, each with the epoch ms of the
   * listing the store holds and of its next poll (null: polling is off)
   */
  polling?: PollerStatus | null;
  /** 123pan unreachable (pan/connectivity.ts): listings from the store, data from the disk cache */
  offline?: boolean;
  /** ISO time the offline period began (only while offline) */
  offlineSince?: string;
  /** the failure that made (or keeps) the mount offline */
  offlineCause?: string;
  /** epoch ms of the next reachability probe (only while offline) */
  nextProbeAt?: number;
  /** libfuse per-thread states held by the (patched) binding: stays flat under bursty load */
  fuseThreads: unknown;
  /** kernel requests answered: per op, read/write request sizes and counts, negotiated max_write (FuseMount) */
  fuseRequests?: unknown;
  /** the daemon's memory now (bytes): RSS, its peak (VmHWM), V8's heap and the memory of Buffers */
  memory?: { rss: number; peakRss: number | null; heapUsed: number; external: number; arrayBuffers: number };
}
