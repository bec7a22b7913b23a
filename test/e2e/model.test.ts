// Model-based test through a real mount (issue 19; the larger run is test/unit/vfs/model.property.test.ts):
// test/helpers/model-worker.mjs applies a seeded random sequence of create/write/append/truncate/rename
// (same folder, across folders, over files, over empty folders)/unlink/mkdir/rmdir in lockstep to the mount
// and to a local temp directory, comparing every result and errno, and every CHECK_EVERY ops the bytes
// (sha256 through the mount) and, once the uploads drained, the emulator's tree (names, MD5s). A failing
// seed prints the op log: add it to SEEDS as a regression.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorHandle } from '../../src/emulator/index.js';
import { BIN, fuseAvailable, ROOT, withMount, type Daemon } from '../helpers/pan-daemon.js';

const run = fuseAvailable();
const OPS = Number(process.env.MODEL_MOUNT_OPS ?? 300);
const SEEDS = (process.env.MODEL_SEEDS ?? '19,4').split(',').map(Number);
const CHECK_EVERY = 60;
const WORKER = join(ROOT, 'test/helpers/model-worker.mjs');

/** the emulator's tree under `/<dir>`: path → 'dir' | md5 */
function serverTree(emu: EmulatorHandle, dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of emu.tree()) {
    if (e.trashed || !e.path.startsWith(`/${dir}/`)) continue;
    const p = e.path.slice(dir.length + 1);
    out[p] = p in out ? `${out[p]} + ${e.md5}` : e.type === 'folder' ? 'dir' : e.md5; // two of one name: shown
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe.runIf(run)('the mount against a local directory, op by op (issue 19)', () => {
  const mounts = withMount();
  let emu: EmulatorHandle;
  let d: Daemon;
  let work: string;

  beforeAll(async () => {
    work = await mounts.tempDir('model');
    emu = await mounts.emulator({ dataDir: join(work, 'emu'), sliceSize: 256 * 1024 });
    d = await mounts.daemon({ apiBase: emu.baseUrl });
  }, 120_000);

  it.each(SEEDS)(
    `seed %i: ${OPS} random ops give the same results, errnos and bytes`,
    { timeout: 150_000 },
    async (seed) => {
      const local = join(work, `local-${seed}`);
      await mkdir(local);
      const cfg = { mount: d.mountpoint, sub: `s${seed}`, local, seed, ops: OPS, checkEvery: CHECK_EVERY, bin: BIN };
      const proc = spawn(process.execPath, [WORKER, JSON.stringify({ ...cfg, stateDir: d.stateDir })], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const log: string[] = [];
      const divergences: string[] = [];
      let summary: Record<string, unknown> | undefined;
      let stderr = '';
      proc.stderr!.on('data', (b) => {
        stderr += b;
      });
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        if (line.startsWith('L ')) log.push(line.slice(2));
        else if (line.startsWith('D ')) divergences.push(line.slice(2));
        else if (line.startsWith('END ')) summary = JSON.parse(line.slice(4)) as Record<string, unknown>;
        else if (line.startsWith('CHECK ')) {
          const want = JSON.parse(line.slice(6)) as Record<string, string>;
          const got = serverTree(emu, `s${seed}/model`);
          proc.stdin!.write(
            JSON.stringify(want) === JSON.stringify(got) ? 'OK\n' : `${JSON.stringify({ want, got })}\n`,
          );
        }
      });
      const code = await new Promise<number | null>((res) => proc.on('close', res));
      if (divergences.length || code !== 0) {
        const tail = log.slice(-(Number(process.env.MODEL_LOG_LINES) || 20));
        console.log(`seed ${seed}:\n${tail.join('\n')}\n${divergences.join('\n')}\n${stderr}`);
        if (process.env.MODEL_DAEMON_LOG) await writeFile(process.env.MODEL_DAEMON_LOG, d.output());
      }
      console.log(`model seed ${seed}: ${JSON.stringify(summary)}`);
      expect(divergences).toEqual([]);
      expect(code).toBe(0);
      expect(summary).toMatchObject({ ops: OPS, divergences: 0 });
    },
  );
});
