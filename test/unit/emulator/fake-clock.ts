// A manual clock for emulator unit tests.
import type { Clock } from '../../../src/core/clock.js';

export class FakeClock implements Clock {
  constructor(public t = Date.UTC(2025, 2, 23, 7, 48, 37)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
  setTimer(): { cancel(): void } {
    return { cancel() {} };
  }
}
