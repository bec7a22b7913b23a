#!/usr/bin/env node
// Generates the demo's sample tree (deterministic, fast): nested folders, text files, small PNG images,
// a few hundred MB of "video" (pseudo-random bytes), and a folder with 10,000 entries.
// Usage: node scripts/make-samples.mjs DIR [--video-mb N] [--many N]
import { mkdir, writeFile, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const args = process.argv.slice(2);
const dir = args[0];
if (!dir) {
  console.error('usage: make-samples.mjs DIR [--video-mb N] [--many N]');
  process.exit(2);
}
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i > 0 ? Number(args[i + 1]) : def;
};
const videoMb = opt('--video-mb', 300);
const many = opt('--many', 10_000);

function crc32(buf) {
  let c,
    crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A w×h RGB gradient PNG. */
function png(w, h, seed) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = ((x * 255) / w + seed * 40) & 255;
      raw[o + 1] = ((y * 255) / h) & 255;
      raw[o + 2] = (seed * 90) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
/** Deterministic pseudo-random bytes (xorshift32). */
function noise(len, seed) {
  const b = Buffer.alloc(len);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i += 4) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    b.writeUInt32LE(s, i);
  }
  return b;
}

async function main() {
  await mkdir(join(dir, 'documents', 'notes', '2026'), { recursive: true });
  await mkdir(join(dir, 'pictures'), { recursive: true });
  await mkdir(join(dir, 'videos'), { recursive: true });
  await mkdir(join(dir, 'many-files'), { recursive: true });
  await writeFile(
    join(dir, 'README.txt'),
    'Welcome to the pan123fs demo.\nThis tree lives in the built-in 123 Open emulator and is mounted through FUSE.\n',
  );
  for (let i = 1; i <= 12; i++) {
    await writeFile(
      join(dir, 'documents', 'notes', '2026', `note-${String(i).padStart(2, '0')}.md`),
      `# Note ${i}\n\n${'Lorem ipsum dolor sit amet. '.repeat(20 * i)}\n`,
    );
  }
  await writeFile(
    join(dir, 'documents', 'report.csv'),
    `id,value\n${Array.from({ length: 5000 }, (_, i) => `${i},${(i * 37) % 101}`).join('\n')}\n`,
  );
  for (let i = 1; i <= 6; i++) await writeFile(join(dir, 'pictures', `gradient-${i}.png`), png(320, 200, i));
  const video = join(dir, 'videos', `sample-${videoMb}MB.bin`);
  const have = await stat(video)
    .then((s) => s.size)
    .catch(() => -1);
  if (have !== videoMb * 1024 * 1024) {
    const fh = await open(video, 'w');
    const block = noise(1024 * 1024, 7);
    for (let i = 0; i < videoMb; i++) {
      block.writeUInt32LE(i, 0);
      await fh.write(block);
    }
    await fh.close();
  }
  for (let i = 0; i < many; i++)
    await writeFile(join(dir, 'many-files', `file-${String(i).padStart(5, '0')}.txt`), `entry ${i}\n`);
  console.log(`samples ready in ${dir}`);
}
await main();
