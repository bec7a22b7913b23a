// Moved to test/support/fake-pan.ts (the one fake of the API); this path stays for the write tests.
export { FakePan, type FakeFile, transient } from '../../support/fake-pan.js';
export { md5hex, ramp } from '../../support/data.js';
