/**
 * Typed errors. Each carries what the user needs to fix the problem in its
 * message; `code` lets callers (and the CLI) branch without parsing text.
 */
export type MoeErrorCode =
  | 'CONFIG'
  | 'GPU_UNAVAILABLE'
  | 'GPU_VALIDATION'
  | 'GPU_OUT_OF_MEMORY'
  | 'DEVICE_LOST'
  | 'INPUT'
  | 'DISPOSED'
  | 'MISSING_DEPENDENCY';

export class MoeRouterError extends Error {
  readonly code: MoeErrorCode;
  constructor(code: MoeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An invalid option or configuration value. */
export class ConfigError extends MoeRouterError {
  constructor(message: string) {
    super('CONFIG', message);
  }
}

/** No WebGPU adapter could be obtained; the message says how to get one. */
export class GpuUnavailableError extends MoeRouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GPU_UNAVAILABLE', message, options);
  }
}

/** WebGPU reported a validation or out-of-memory error for an operation of ours. */
export class GpuError extends MoeRouterError {
  readonly operation: string;
  constructor(code: 'GPU_VALIDATION' | 'GPU_OUT_OF_MEMORY', operation: string, detail: string) {
    super(code, `WebGPU ${code === 'GPU_VALIDATION' ? 'validation' : 'out-of-memory'} error during ${operation}: ${detail}`);
    this.operation = operation;
  }
}

/** The GPU device was lost (driver reset, device destroyed, ...). */
export class DeviceLostError extends MoeRouterError {
  readonly reason: string;
  constructor(reason: string, detail: string) {
    super('DEVICE_LOST', `the WebGPU device was lost (${reason}): ${detail || 'no detail given'}`);
    this.reason = reason;
  }
}

/** A bad input record: where it is and what is wrong with it. */
export class InputError extends MoeRouterError {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, problem: string) {
    super('INPUT', `${file}:${line}: ${problem}`);
    this.file = file;
    this.line = line;
  }
}

/** The router was used after dispose(). */
export class DisposedError extends MoeRouterError {
  constructor() {
    super('DISPOSED', 'this SwitchedMoE has been disposed; create a new one');
  }
}

/** An optional package (a format library) is needed for what was asked and is not installed. */
export class MissingDependencyError extends MoeRouterError {
  readonly packageName: string;
  constructor(packageName: string, purpose: string) {
    super('MISSING_DEPENDENCY', `${purpose} needs the optional package ${packageName}, which is not installed: npm install ${packageName}`);
    this.packageName = packageName;
  }
}
