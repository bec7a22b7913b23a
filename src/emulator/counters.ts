// Observable counters (admin API and EmulatorHandle.counters()). Plain mutable numbers owned here;
// snapshot() returns a deep copy so callers never hold live state. busiest: per endpoint, the most requests
// that arrived within one second (sliding), from the arrival times of the last second.

import type { EmulatorCounters } from './types.js';

export function emptyCounters(): EmulatorCounters {
  return {
    requests: {},
    busiest: {},
    bytesServed: 0,
    directLinkBytesServed: 0,
    sliceBytesReceived: 0,
    singleUploadBytes: 0,
    instantUploadHits: 0,
    copies: 0,
    uploadHosts: {},
    tokensIssued: 0,
    rivalTokensIssued: 0,
    rateLimited: 0,
    faultsApplied: 0,
  };
}

export class Counters {
  c = emptyCounters();
  /** endpoint → arrival times (ms) within the last second */
  private recent = new Map<string, number[]>();
  request(endpoint: string, now: number): void {
    this.c.requests[endpoint] = (this.c.requests[endpoint] ?? 0) + 1;
    const times = this.recent.get(endpoint) ?? [];
    this.recent.set(endpoint, times);
    while (times.length > 0 && times[0]! <= now - 1000) times.shift();
    times.push(now);
    this.c.busiest[endpoint] = Math.max(this.c.busiest[endpoint] ?? 0, times.length);
  }
  snapshot(): EmulatorCounters {
    return {
      ...this.c,
      requests: { ...this.c.requests },
      busiest: { ...this.c.busiest },
      uploadHosts: { ...this.c.uploadHosts },
    };
  }
  reset(): void {
    this.c = emptyCounters();
    this.recent = new Map();
  }
}
