// Observable counters (admin API and EmulatorHandle.counters()). Plain mutable numbers owned here;
// snapshot() returns a deep copy so callers never hold live state.

import type { EmulatorCounters } from './types.js';

export function emptyCounters(): EmulatorCounters {
  return {
    requests: {},
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
  request(endpoint: string): void {
    this.c.requests[endpoint] = (this.c.requests[endpoint] ?? 0) + 1;
  }
  snapshot(): EmulatorCounters {
    return { ...this.c, requests: { ...this.c.requests }, uploadHosts: { ...this.c.uploadHosts } };
  }
  reset(): void {
    this.c = emptyCounters();
  }
}
