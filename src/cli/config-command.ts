// `pan123fs config check [--config FILE] [flags]`: resolves the configuration exactly as `mount` would
// (resolveMountConfig: flag > env > config file > default) and either says what is wrong (exit 2) or
// prints the effective value of every option and where it came from. Secrets are shown as "(set)".

import type { Command } from 'commander';
import { OPTIONS, type OptionSpec } from '../config/options.js';
import { ConfigError } from '../config/parse.js';
import { optionSources, resolveMountConfig, type MountConfig, type OptionSource } from '../config/resolve.js';
import { UserFacingError } from '../core/user-error.js';
import { addTableOptions } from './options-to-flags.js';
import { dieWith } from './errors.js';

export interface EffectiveOption {
  key: string;
  flag: string;
  value: string;
  source: OptionSource;
}

/** The MountConfig value behind an option key (durations carry an `Ms` suffix there). */
function configValue(cfg: MountConfig, key: string): unknown {
  const c = cfg as unknown as Record<string, unknown>;
  return key in c ? c[key] : c[`${key}Ms`];
}

export function formatDuration(ms: number): string {
  for (const [u, n] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= n && ms % n === 0) return `${ms / n}${u}`;
  }
  return `${ms}ms`;
}

export function formatSize(b: number): string {
  for (const [u, n] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (b >= n && b % n === 0) return `${b / n}${u}`;
  }
  return String(b);
}

function display(spec: OptionSpec, v: unknown): string {
  if (spec.secret) return v ? '(set)' : '(not set)';
  if (v === undefined || v === null) return '(not set)';
  switch (spec.type) {
    case 'duration':
      return formatDuration(Number(v));
    case 'size':
      return formatSize(Number(v));
    case 'octal':
      return `0${Number(v).toString(8).padStart(3, '0')}`;
    default:
      return String(v);
  }
}

/** Every option's effective value (secrets masked) and its source. */
export function effectiveOptions(cfg: MountConfig, sources: Record<string, OptionSource>): EffectiveOption[] {
  return OPTIONS.map((o) => {
    let source = sources[o.key] ?? 'default';
    if (o.key === 'clientSecret' && sources.clientSecretFile && sources.clientSecretFile !== 'default')
      source = 'secret file';
    if (source === 'default' && (o.key === 'cacheDir' || o.key === 'stateDir' || o.key === 'uid' || o.key === 'gid'))
      source = 'derived';
    return { key: o.key, flag: o.flag, value: display(o, configValue(cfg, o.key)), source };
  });
}

/** Things that are valid but probably not what a service wants. */
export function configWarnings(cfg: MountConfig, sources: Record<string, OptionSource>): string[] {
  const w: string[] = [];
  if (!cfg.mountpoint)
    w.push(
      'no "mountpoint": `mount` then needs a MOUNTPOINT argument (the systemd units and the fstab helper need the key)',
    );
  if (sources.clientSecret === 'flag')
    w.push(
      'the client secret came from a flag: other users can see it in `ps`; ' +
        'use --client-secret-file or a 0600 config file',
    );
  if (cfg.directLink && !cfg.directLinkKey)
    w.push('direct links without --direct-link-key: fine only if URL authentication (鉴权) is off for the space');
  return w;
}

export async function checkConfig(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Promise<{ cfg: MountConfig; options: EffectiveOption[]; warnings: string[]; configFile?: string }> {
  const cfg = await resolveMountConfig(flags, env);
  const sources = await optionSources(flags, env);
  const configFile = (flags.config ?? env.PAN123_CONFIG) as string | undefined;
  const options = effectiveOptions(cfg, sources);
  for (const o of options) if (o.key === 'config') o.value = configFile ?? '(none)';
  return { cfg, options, warnings: configWarnings(cfg, sources), configFile };
}

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect configuration files');
  const check = config
    .command('check')
    .description(
      'validate the configuration (config file + flags + environment) the way `mount` reads it, ' +
        'and print the effective values',
    )
    .option('--json', 'print the effective configuration as JSON');
  addTableOptions(check);
  check.action(async (flags: Record<string, unknown>) => {
    try {
      const r = await checkConfig(flags, process.env);
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify(
            { ok: true, configFile: r.configFile ?? null, options: r.options, warnings: r.warnings },
            null,
            2,
          )}\n`,
        );
        return;
      }
      const w = Math.max(...r.options.map((o) => o.key.length));
      const vw = Math.min(48, Math.max(...r.options.map((o) => o.value.length)));
      const lines = [`config OK${r.configFile ? ` (${r.configFile})` : ''}; effective values:`];
      for (const o of r.options) lines.push(`  ${o.key.padEnd(w)}  ${o.value.padEnd(vw)}  [${o.source}]`);
      for (const x of r.warnings) lines.push(`warning: ${x}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    } catch (e) {
      dieWith(e instanceof ConfigError ? new UserFacingError(`config: ${e.message}`, 2) : e);
    }
  });
}
