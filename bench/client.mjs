// The 123 Open client alone (no FUSE), for comparisons in bench/run.mjs. Imports the built dist/.
//   node bench/client.mjs download-url BASE STATE_DIR FILE_ID        → prints the download_info URL
//   node bench/client.mjs upload BASE STATE_DIR FILE NAME [SCALE]    → uploads FILE to /NAME, prints JSON
// upload = what a client has to do: MD5 the file (FileSliceSource.md5), then uploadFile (create → slices
// → complete), with the same defaults the daemon uses (3 slices in flight, client QPS scale 1).

import { systemClock } from '../dist/core/clock.js';
import { silentLogger } from '../dist/core/logger.js';
import { HttpPanClient } from '../dist/pan/http-pan-client.js';
import { FileSliceSource } from '../dist/write/md5.js';
import { uploadFile } from '../dist/write/upload-flow.js';

const [cmd, apiBase, stateDir, a, b, scale] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const startEpochMs = Date.now(); // after imports: the orchestrator measures commit time from here
const client = new HttpPanClient({
  apiBase,
  stateDir,
  clientId: 'pan123fs-demo',
  clientSecret: 'pan123fs-demo-secret',
  rateLimitScale: scale === undefined ? 1 : Number(scale),
});
try {
  if (cmd === 'download-url') {
    const link = await client.downloadInfo(a);
    process.stdout.write(`${link.url}\n`);
  } else if (cmd === 'upload') {
    const t0 = now();
    const src = await FileSliceSource.open(a);
    try {
      const md5 = await src.md5();
      const t1 = now();
      const r = await uploadFile(client, {
        parentId: '0',
        name: b,
        source: src,
        size: src.size,
        md5,
        logger: silentLogger,
        clock: systemClock,
      });
      const t2 = now();
      const line = {
        md5,
        size: src.size,
        startEpochMs,
        md5Secs: t1 - t0,
        uploadSecs: t2 - t1,
        totalSecs: t2 - t0,
        ...r,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      await src.close();
    }
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
} finally {
  await client.close();
}
