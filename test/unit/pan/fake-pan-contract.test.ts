// The in-process FakePan (test/support/fake-pan.ts) against the same PanApi contract as HttpPanClient +
// the emulator (test/integration/pan-contract.test.ts): the fake the unit tests use cannot drift.
import { FakePan } from '../../support/fake-pan.js';
import { panContract } from '../../support/pan-contract.js';

let pan = new FakePan();
let sliceBase = 0;
const sliceBytes = () =>
  pan.calls.filter((c) => c.method === 'uploadSlice').reduce((n, c) => n + (c.args.length as number), 0);

panContract('FakePan', () => {
  pan = new FakePan();
  pan.sliceSize = 64 * 1024;
  pan.pendingPolls = 2;
  let listBase = 0;
  return {
    api: () => pan,
    root: '0',
    async seedFolder(name, files) {
      const dir = pan.addDir('0', name);
      for (const f of files) pan.addFile(dir, f.name, f.data);
    },
    listPages: {
      reset: () => {
        listBase = pan.count('listPage');
      },
      count: () => pan.count('listPage') - listBase,
    },
    sliceBytes: {
      reset: () => {
        sliceBase = sliceBytes();
      },
      count: () => sliceBytes() - sliceBase,
    },
    pollPause: () => Promise.resolve(),
    completePolls: 2,
  };
});
