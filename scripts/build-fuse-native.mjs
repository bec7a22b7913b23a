#!/usr/bin/env node
// npm postinstall: patch fuse-native 2.2.6 with patches/fuse-native+2.2.6.patch (our libfuse 3 port) and
// build it from source against the system libfuse 3 (pkg-config fuse3) into
// node_modules/fuse-native/build/Release, which node-gyp-build loads in preference to the upstream prebuilds/.
// Idempotent: a stamp (sha256 of the patch) records what is applied and built; pristine copies of the patched
// files are kept in .pan123fs-orig/ so a changed patch is re-applied to the originals.
// When the toolchain or libfuse3-dev is missing, it keeps the upstream prebuilt binary and says so
// loudly (that binary is libfuse 2 based; src/fuse/binding.ts reports which binary is in use at mount time).
// A patch that does not apply is a bug in this repo and fails the install.
// Env: PAN123FS_SKIP_FUSE_BUILD=1 skips everything; PAN123FS_FORCE_FUSE_BUILD=1 rebuilds.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEnv, installHint } from './macfuse-env.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PATCH = path.join(ROOT, 'patches/fuse-native+2.2.6.patch');
const INSTALL_HINT = installHint(process.platform);
// macOS: let pkg-config find macFUSE's fuse3.pc (children inherit this process's environment)
Object.assign(process.env, buildEnv(process.platform, process.env));

const log = (m) => console.log(`[build-fuse-native] ${m}`);
function loud(lines) {
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n`);
}

function main() {
  if (process.env.PAN123FS_SKIP_FUSE_BUILD) return log('skipped (PAN123FS_SKIP_FUSE_BUILD)');
  let dir;
  try {
    dir = path.dirname(createRequire(path.join(ROOT, 'package.json')).resolve('fuse-native/package.json'));
  } catch {
    return log('fuse-native is not installed; nothing to do');
  }
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  if (version !== '2.2.6')
    return loud([`fuse-native ${version} is not 2.2.6: ${path.relative(ROOT, PATCH)} not applied`]);

  const patchText = fs.readFileSync(PATCH, 'utf8');
  const sha = createHash('sha256').update(patchText).digest('hex');
  applyPatch(dir, patchText, sha);
  build(dir, sha);
}

// ---- patch -------------------------------------------------------------------------------------

function applyPatch(dir, patchText, sha) {
  const stamp = path.join(dir, '.pan123fs-patch.sha256');
  if (readOr(stamp) === sha) return log('patch already applied');
  const files = [...patchText.matchAll(/^\+\+\+ b\/(\S+)/gm)].map((m) => m[1]);
  const orig = path.join(dir, '.pan123fs-orig');
  if (fs.existsSync(orig)) {
    for (const f of files) fs.copyFileSync(path.join(orig, f), path.join(dir, f)); // back to pristine
  } else {
    fs.mkdirSync(orig);
    for (const f of files) fs.copyFileSync(path.join(dir, f), path.join(orig, f));
  }
  if (hasCommand('patch')) {
    const r = spawnSync('patch', ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-d', dir, '-i', PATCH], {
      encoding: 'utf8',
    });
    if (r.status !== 0) fail(`patch failed:\n${r.stdout}${r.stderr}`);
  } else {
    log('`patch` not found; using the built-in applier');
    applyUnifiedDiff(dir, patchText);
  }
  fs.writeFileSync(stamp, sha);
  fs.rmSync(path.join(dir, 'build', 'Release', '.pan123fs-patch.sha256'), { force: true }); // rebuild
  log(`applied ${path.relative(ROOT, PATCH)}`);
}

/** Minimal unified-diff applier: exact context match, hunks searched near their stated line. */
function applyUnifiedDiff(dir, text) {
  for (const part of text.split(/^--- a\//m).slice(1)) {
    const file = part.match(/^\+\+\+ b\/(\S+)/m)[1];
    const target = path.join(dir, file);
    let lines = fs.readFileSync(target, 'utf8').split('\n');
    let shift = 0;
    for (const h of part.split(/^@@ /m).slice(1)) {
      const start = Number(h.match(/^-(\d+)/)[1]) - 1 + shift;
      const body = h.slice(h.indexOf('\n') + 1).split('\n');
      const oldL = [];
      const newL = [];
      for (const l of body) {
        if (l.startsWith('\\')) continue;
        if (l.startsWith(' ') || l === '') {
          oldL.push(l.slice(1));
          newL.push(l.slice(1));
        } else if (l.startsWith('-')) oldL.push(l.slice(1));
        else if (l.startsWith('+')) newL.push(l.slice(1));
      }
      while (oldL.length && newL.length && oldL.at(-1) === '' && newL.at(-1) === '') {
        oldL.pop();
        newL.pop();
      }
      const at = findBlock(lines, oldL, start);
      if (at < 0) fail(`hunk at line ${start + 1} of ${file} does not apply`);
      lines = [...lines.slice(0, at), ...newL, ...lines.slice(at + oldL.length)];
      shift += newL.length - oldL.length + (at - start);
    }
    fs.writeFileSync(target, lines.join('\n'));
  }
}

function findBlock(lines, block, near) {
  const matches = (i) => block.every((b, k) => lines[i + k] === b);
  for (let d = 0; d < lines.length; d++) {
    if (near - d >= 0 && matches(near - d)) return near - d;
    if (near + d + block.length <= lines.length && matches(near + d)) return near + d;
  }
  return -1;
}

// ---- build -------------------------------------------------------------------------------------

function build(dir, sha) {
  const release = path.join(dir, 'build', 'Release');
  const stamp = path.join(release, '.pan123fs-patch.sha256');
  const binary = path.join(release, 'fuse.node');
  if (!process.env.PAN123FS_FORCE_FUSE_BUILD && fs.existsSync(binary) && readOr(stamp) === sha && loads(binary)) {
    return log(`source build up to date: ${path.relative(ROOT, binary)}`);
  }
  const missing = [];
  if (!hasCommand(process.env.CC || 'cc')) missing.push('a C compiler (build-essential)');
  if (!hasCommand('make')) missing.push('make (build-essential)');
  if (!hasCommand('pkg-config')) missing.push('pkg-config');
  else if (spawnSync('pkg-config', ['--exists', 'fuse3 >= 3.9']).status !== 0)
    missing.push('libfuse 3.9+ headers (libfuse3-dev)');
  if (!hasCommand('python3')) missing.push('python3 (node-gyp)');
  const gyp = findNodeGyp();
  if (!gyp) missing.push('node-gyp (bundled with npm)');
  if (missing.length) return fallback(`cannot build fuse-native from source: missing ${missing.join(', ')}`);

  const args = [gyp, 'rebuild', '--release'];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  // no header download
  if (fs.existsSync(path.join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
  log(`building: node-gyp ${args.slice(1).join(' ')}`);
  const r = spawnSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(binary, { force: true });
    return fallback(
      `node-gyp build failed (exit ${r.status}):\n${(r.stdout + r.stderr).split('\n').slice(-25).join('\n')}`,
    );
  }
  if (!loads(binary)) {
    fs.rmSync(binary, { force: true });
    return fallback('the freshly built fuse.node does not load');
  }
  fs.writeFileSync(stamp, sha);
  log(
    `built ${path.relative(ROOT, binary)} against the system libfuse ${pkgVersion()} (pkg-config fuse3); ` +
      'it takes precedence over prebuilds/',
  );
}

function fallback(reason) {
  loud([
    reason,
    'FALLING BACK to the upstream prebuilt fuse-native binary (libfuse 2, linux-x64/darwin-x64 only),',
    'which LEAKS a libuv handle per retired FUSE thread (the daemon slows down over time), gets utimens',
    'mtime wrong and has none of libfuse 3 (1 MiB requests, readdirplus, cache invalidation).',
    `Fix: ${INSTALL_HINT}`,
    'then run: npm run postinstall',
  ]);
}

function loads(binary) {
  const r = spawnSync(process.execPath, [
    '-e',
    `const b = require(${JSON.stringify(binary)}); const fn = (n) => typeof b[n] === 'function';` +
      "process.exit(fn('fuse_native_thread_stats') && fn('fuse_native_invalidate') ? 0 : 3)",
  ]);
  return r.status === 0;
}

function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push(createRequire(path.join(ROOT, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not a dependency */
  }
  if (process.env.npm_execpath)
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'));
  candidates.push(
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  );
  try {
    const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
    if (npm) candidates.push(path.join(path.dirname(fs.realpathSync(npm)), '../node_modules/node-gyp/bin/node-gyp.js'));
  } catch {
    /* no npm on PATH */
  }
  return candidates.find((c) => fs.existsSync(c));
}

function pkgVersion() {
  const r = spawnSync('pkg-config', ['--modversion', 'fuse3'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '3';
}

function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function readOr(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function fail(msg) {
  console.error(`[build-fuse-native] ERROR: ${msg}`);
  process.exit(1);
}

main();
