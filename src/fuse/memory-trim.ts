// MemoryTrim: hands the free pages inside glibc's malloc arenas back to the kernel after garbage collections
// (the binding's malloc_trim(0), patch item 9). Node's Buffers and libfuse's 1 MiB READ replies are malloc'd;
// free() only returns the free top of a heap, so one live chunk above a freed MiB keeps that MiB resident.
// Under issue 19's load glibc's main heap held 262 MiB for 111 MiB of Buffers; the garbage those freed
// Buffers leave is what a collection releases, so the trim runs a short while after one.
// Invariants: at most one trim per minIntervalMs (a trim walks every arena's free lists, ~1 ms on a quiet
// heap); the first trim after a collection waits delayMs (V8 frees ArrayBuffer memory on a background
// sweeper after the pause); stop() ends the observer and any pending timer; without the native function
// (unpatched binary, not glibc) start() returns a no-op.

import { PerformanceObserver } from 'node:perf_hooks';
import type { Clock } from '../core/clock.js';

/** After a collection: time for V8's concurrent ArrayBuffer sweeper to free the backing stores. */
const TRIM_DELAY_MS = 50;
/** At most 4 trims a second: each costs ~1 ms, and pages given back cost a fault when malloc reuses them. */
const TRIM_MIN_INTERVAL_MS = 250;

export interface MemoryTrimStats {
  trims: number;
  released: number;
}

export interface MemoryTrim {
  stats(): MemoryTrimStats;
  stop(): void;
}

/** `trim` is the binding's fuse_native_malloc_trim (true when memory was released). */
export function startMemoryTrim(
  trim: (() => boolean) | undefined,
  clock: Clock,
  opts: { delayMs?: number; minIntervalMs?: number; observe?: (onGc: () => void) => () => void } = {},
): MemoryTrim {
  const s: MemoryTrimStats = { trims: 0, released: 0 };
  if (!trim) return { stats: () => ({ ...s }), stop() {} };
  const delay = opts.delayMs ?? TRIM_DELAY_MS;
  const interval = opts.minIntervalMs ?? TRIM_MIN_INTERVAL_MS;
  let pending: { cancel(): void } | undefined;
  let last = Number.NEGATIVE_INFINITY;
  let stopped = false;
  const run = () => {
    pending = undefined;
    if (stopped) return;
    last = clock.now();
    s.trims++;
    if (trim()) s.released++;
  };
  const onGc = () => {
    if (pending || stopped) return;
    pending = clock.setTimer(Math.max(delay, last + interval - clock.now()), run);
  };
  const unobserve = (opts.observe ?? observeGc)(onGc);
  return {
    stats: () => ({ ...s }),
    stop() {
      stopped = true;
      pending?.cancel();
      unobserve();
    },
  };
}

/** Calls onGc after every V8 collection (perf_hooks 'gc' entries). */
function observeGc(onGc: () => void): () => void {
  const obs = new PerformanceObserver(() => onGc());
  obs.observe({ entryTypes: ['gc'] });
  return () => obs.disconnect();
}
