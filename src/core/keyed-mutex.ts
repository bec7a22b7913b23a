// Keyed mutex: serialises async critical sections per key (e.g. per inode). FIFO; no re-entrancy.

export class KeyedMutex<K> {
  private readonly tails = new Map<K, Promise<void>>();

  async lock<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
