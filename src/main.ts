// Composition root and CLI entry: builds the commander program (mount, serve webdav, status, …). The only place
// that picks implementations (the commands call into daemon/ and emulator/, which receive everything they use).

import { Command } from 'commander';
import { registerMountCommand } from './cli/mount-command.js';
import { registerControlCommands } from './cli/control-commands.js';
import { registerCacheCommands } from './cli/cache-commands.js';
import { registerEmulatorCommand } from './emulator/cli.js';
import { registerConfigCommand } from './cli/config-command.js';
import { registerDoctorCommand } from './cli/doctor.js';
import { registerAccountCommands } from './cli/account-commands.js';
import { registerCleanupCommand } from './cli/cleanup-command.js';
import { registerInstallServiceCommand } from './cli/install-service-command.js';
import { programVersion } from './cli/version.js';
import { registerServeCommand } from './cli/serve-command.js';

const program = new Command('pan123fs')
  .description('Mount a 123云盘 (123pan) account as a local directory through the 123 Open API')
  .version(programVersion());
registerMountCommand(program);
registerControlCommands(program);
registerCacheCommands(program);
registerEmulatorCommand(program);
registerConfigCommand(program);
registerDoctorCommand(program);
registerCleanupCommand(program);
registerAccountCommands(program);
registerInstallServiceCommand(program);
registerServeCommand(program);
await program.parseAsync(process.argv);
