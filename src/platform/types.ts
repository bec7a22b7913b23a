// The platform seam: every difference between Linux and macOS that the daemon meets (unmounting, finding
// a mount without /proc, kernel read-ahead, macFUSE mount options, default dirs, where FUSE comes from,
// which service manager runs us). Callers name the need, never the OS. All I/O comes through
// PlatformIo so the macOS implementation runs in unit tests on Linux with an injected io.
// Invariants: nothing here is synchronous except unmountCommand (the crash guard runs it with
// execFileSync while the process dies); no method touches a mounted path.

export type PlatformName = 'linux' | 'darwin';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PlatformIo {
  /** run a program (never a shell); resolves with its exit code instead of rejecting */
  exec(file: string, args: string[]): Promise<ExecResult>;
  readFile(path: string): Promise<string>;
  writeFile(path: string, data: string): Promise<void>;
  /** true when path exists (and is accessible with mode, an fs.constants mask, when given) */
  exists(path: string, mode?: number): Promise<boolean>;
  env: NodeJS.ProcessEnv;
  homedir: string;
  uid: number;
}

export interface MountEntry {
  /** Linux: the device number "maj:min" (names the bdi); macOS: the device node (/dev/macfuse0) */
  device: string;
  fsType: string;
}

export interface CheckOutcome {
  ok: boolean;
  detail: string;
  /** the exact command or step that fixes it */
  fix?: string;
}

export interface Platform {
  readonly name: PlatformName;
  /** false for macOS: built to work, never run here (README "macOS (untested)") */
  readonly tested: boolean;
  /** the FUSE kernel side: /dev/fuse on Linux, the macFUSE bundle on macOS */
  checkFuse(): Promise<CheckOutcome>;
  /** the program that unmounts as this user, if found (fusermount3, fusermount, umount) */
  findUnmountTool(): Promise<string | undefined>;
  /** the command that unmounts `mnt`; lazy = detach even while busy or disconnected */
  unmountCommand(mnt: string, lazy: boolean): { file: string; args: string[] };
  unmount(mnt: string, lazy: boolean): Promise<void>;
  /** the top-most mount at exactly `mnt`, if any */
  findMount(mnt: string): Promise<MountEntry | undefined>;
  /** sets the kernel read-ahead of a mount; 'unsupported' where the OS has no such knob */
  setReadAhead(entry: MountEntry, kb: number): Promise<'set' | 'unsupported'>;
  /** mount options this platform adds, and base options it does not understand */
  adaptMountOptions(base: string[], o: { volname: string; ioSizeBytes: number }): string[];
  /** where cache and state live by default for this user */
  defaultDirs(clientId: string): { cacheDir: string; stateDir: string };
  /** how to install FUSE here, as one line for an error message */
  readonly fuseInstallHint: string;
  /** how pan123fs runs as a service here */
  readonly serviceManager: 'systemd' | 'launchd';
}

export class PlatformError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'PlatformError';
  }
}

/** A directory-safe form of a client id (one cache dir per account). */
export function safeAccountDir(clientId: string): string {
  return clientId.replace(/[^A-Za-z0-9._-]/g, '_') || 'default';
}
