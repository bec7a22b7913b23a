// The paths the kernel may hold cached entries, attributes or pages for: every path a request named, and
// every name a readdir returned (READDIRPLUS hands the kernel an entry with attributes for each). Used to
// invalidate the kernel's caches under a folder on `pan123fs refresh` (libfuse's own path cache is not
// reachable from outside). Bounded: past MAX_PATHS the oldest are forgotten, so a huge tree can leave a few
// entries cached until their attribute timeout. Main thread only (fuse-native runs every op there).

export const MAX_PATHS = 200_000;

export class KernelPaths {
  private paths = new Set<string>();

  constructor(private readonly max = MAX_PATHS) {}

  add(path: string): void {
    if (this.paths.has(path)) return;
    this.paths.add(path);
    if (this.paths.size > this.max) {
      const oldest = this.paths.values().next().value;
      if (oldest !== undefined) this.paths.delete(oldest);
    }
  }

  addChildren(dir: string, names: readonly string[]): void {
    const base = dir === '/' ? '' : dir;
    for (const n of names) this.add(`${base}/${n}`);
  }

  /** `dir` itself and the known paths directly in it, or anywhere below it when `recursive`. */
  under(dir: string, recursive: boolean): string[] {
    const base = dir === '/' ? '' : dir.replace(/\/+$/, '');
    const prefix = `${base}/`;
    const out = [base || '/'];
    for (const p of this.paths) {
      if (!p.startsWith(prefix) || p === prefix) continue;
      if (recursive || !p.slice(prefix.length).includes('/')) out.push(p);
    }
    return out;
  }

  get size(): number {
    return this.paths.size;
  }
}
