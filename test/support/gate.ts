// Gates: how a test holds a fake's call and knows that the call has really got there. The fake awaits
// `gate.pass()` where the call should stop; the test awaits `gate.reached()` (resolves once a call is held
// at the gate; no sleep standing in for "the call has happened"), checks what it wants, then `open()`s
// it. A gate opened before any call passes everything through. `Gates<K>` keys gates by method name for
// fakes with several methods; a method without a gate passes at once.

export class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

export class Gate {
  /** calls that have reached the gate so far (held or passed) */
  arrived = 0;
  private isOpen = false;
  private readonly opened = new Deferred();
  private waiters: { n: number; d: Deferred }[] = [];

  /** Called by the fake: counts the arrival, then waits until the gate opens. */
  pass(): Promise<void> {
    this.arrived++;
    for (const w of this.waiters.filter((x) => this.arrived >= x.n)) w.d.resolve();
    this.waiters = this.waiters.filter((x) => this.arrived < x.n);
    return this.isOpen ? Promise.resolve() : this.opened.promise;
  }

  /** Resolves once n calls (in all) have reached the gate. */
  reached(n = 1): Promise<void> {
    if (this.arrived >= n) return Promise.resolve();
    const d = new Deferred();
    this.waiters.push({ n, d });
    return d.promise;
  }

  /** Lets every held call and every later one through. */
  open(): void {
    this.isOpen = true;
    this.opened.resolve();
  }

  /** Makes every held call and every later one throw this error. */
  fail(err: unknown): void {
    this.opened.promise.catch(() => undefined);
    this.opened.reject(err);
  }
}

export class Gates<K extends string> {
  private readonly gates = new Map<K, Gate>();

  /** Holds the next calls of `key` at a new gate (replacing an earlier gate of that key). */
  hold(key: K): Gate {
    const g = new Gate();
    this.gates.set(key, g);
    return g;
  }

  /** Removes the gate of key (opening it, so nothing stays held). */
  release(key: K): void {
    this.gates.get(key)?.open();
    this.gates.delete(key);
  }

  /** Called by the fake at the point a call of `key` should be held. */
  pass(key: K): Promise<void> {
    return this.gates.get(key)?.pass() ?? Promise.resolve();
  }
}

/** What a probe of `until` answers: a value once it holds, or `undefined` / `null` / `false` while it does not. */
export type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

export interface UntilOptions {
  /** give up after this long (default 5000 ms) */
  timeoutMs?: number;
  /** pause between probes (default 5 ms); a probe that spawns a process wants a longer one */
  everyMs?: number;
  /** a probe that throws is "not yet" (the last error is quoted on timeout); by default it fails the wait */
  retryErrors?: boolean;
}

/**
 * Polls a probe until it holds (a positive oracle) and returns what it found: a boolean condition's
 * `true`, or the value a probe returned (anything but undefined, null or false). Fails with `what` after
 * timeoutMs. For state that only shows from outside (a file on disk, a process's answer); prefer a gate
 * or an event when the code under test offers one.
 */
export async function until<T>(
  probe: Probe<T>,
  what: string,
  { timeoutMs = 5000, everyMs = 5, retryErrors = false }: UntilOptions = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e) {
      if (!retryErrors) throw e;
      lastError = e;
    }
    if (Date.now() > end) {
      const cause = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
