// What the op workers of the e2e tests (crash-worker.mjs, model-worker.mjs) share: their config from argv,
// the seeded xorshift32 generator their op sequence comes from (a seed always gives the same sequence:
// the tests replay and report runs by seed), and the synchronous one-line-per-message stdout protocol.
import fs from 'node:fs';

/** argv[2] of the worker, parsed (JSON) */
export const cfg = JSON.parse(process.argv[2]);

/** a seeded generator: rand() in [0, 1) (xorshift32 from seed, 1 for a zero seed) and pick(xs) */
export function seeded(seed) {
  let s = seed >>> 0 || 1;
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  return { rand, pick };
}

/** one line to stdout, written synchronously (the parent reads what was said before a kill) */
export const say = (line) => fs.writeSync(1, `${line}\n`);
