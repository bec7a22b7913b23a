// Moved to test/support/clock.ts (the one fake clock); this path stays for the write tests.
export { FakeClock } from '../../support/clock.js';
