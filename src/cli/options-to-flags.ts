// Turns the option table into commander options, so the `mount` flags, env vars and config keys can
// never drift apart.

import { type Command, Option } from 'commander';
import { OPTIONS, type OptionSpec } from '../config/options.js';

function flagSyntax(o: OptionSpec): string {
  if (o.type === 'bool') return `--${o.flag}`;
  const meta = { string: 'VALUE', int: 'N', number: 'N', duration: 'DURATION', size: 'SIZE', octal: 'MODE' }[o.type];
  return `--${o.flag} <${meta}>`;
}

export function addTableOptions(cmd: Command, keys?: readonly string[]): Command {
  for (const o of OPTIONS) {
    if (keys && !keys.includes(o.key)) continue;
    const env = o.env ? ` [env ${o.env}]` : '';
    const dflt = o.default !== undefined && o.type !== 'bool' ? ` (default ${o.default})` : '';
    const help = `${o.help}${env}${dflt}`;
    const opt = new Option(flagSyntax(o), help);
    cmd.addOption(opt);
    if (o.type === 'bool') cmd.addOption(new Option(`--no-${o.flag}`).hideHelp());
  }
  return cmd;
}
