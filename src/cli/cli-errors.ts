/**
 * How the CLI fails: one line on stderr, never a stack trace, and an exit code
 *   2  usage, invalid option or config value, unreadable input, unwritable output, no GPU for --backend gpu
 *   1  a bad input record (invalid JSON, missing field, bad CSV quoting) without --on-error skip
 *  70  an internal error (a bug: please report it); MOE_ROUTER_DEBUG=1 prints the stack
 * 130/143  interrupted by SIGINT/SIGTERM (temporary output files are removed)
 */
import { ConfigError, GpuUnavailableError, InputError, MoeRouterError } from '../errors.js';

export const EXIT = { OK: 0, BAD_RECORD: 1, USAGE: 2, INTERNAL: 70 } as const;

/** A failure whose message is already user-facing. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const IO_CODES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EPIPE: 'broken pipe',
  EEXIST: 'already exists',
  EMPTY_PATH: 'the path is empty',
};

export function ioMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && IO_CODES[e.code]) return IO_CODES[e.code];
  return e instanceof Error ? e.message : String(err);
}

/** Wraps a filesystem error: "cannot <what> <path>: <reason>", exit 2. */
export function ioError(what: string, path: string, err: unknown): CliError {
  // an empty path would read as "cannot read input : ..."
  return new CliError(`cannot ${what} ${path === '' ? '""' : path}: ${ioMessage(err)}`, EXIT.USAGE);
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof InputError) return EXIT.BAD_RECORD;
  if (err instanceof ConfigError || err instanceof GpuUnavailableError) return EXIT.USAGE;
  if (err instanceof MoeRouterError) return EXIT.USAGE;
  return EXIT.INTERNAL;
}

export function messageOf(err: unknown): string {
  if (err instanceof CliError || err instanceof MoeRouterError) return err.message;
  const e = err as Error;
  return `internal error: ${e instanceof Error ? e.message : String(err)} (this is a bug; MOE_ROUTER_DEBUG=1 shows the stack)`;
}

/** Prints the one-line message and returns the exit code. */
export function reportError(err: unknown): number {
  const code = exitCodeOf(err);
  process.stderr.write(`moe-router: error: ${messageOf(err).replace(/\s*\n\s*/g, ' ')}\n`);
  if (process.env.MOE_ROUTER_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return code;
}

/** A warning on stderr, in the same form as errors. */
export function warn(message: string): void {
  // one line, like errors: some messages (Dawn's adapter list) hold line breaks
  process.stderr.write(`moe-router: warning: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
}
