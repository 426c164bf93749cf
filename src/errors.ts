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
  | 'UNSUPPORTED_INPUT'
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
  /** True when Dawn's bindings (the optional package webgpu) could not be loaded: an install problem worth a warning. */
  readonly bindingsMissing: boolean;
  constructor(message: string, options?: { cause?: unknown; bindingsMissing?: boolean }) {
    super('GPU_UNAVAILABLE', message, options);
    this.bindingsMissing = options?.bindingsMissing ?? false;
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

/** An input whose first bytes say it is not text (compressed, columnar) and that no reader handles. */
export class UnsupportedInputError extends MoeRouterError {
  /** What the first bytes say it is (gzip, zstd, parquet, ...). */
  readonly kind: string;
  constructor(kind: string, message: string) {
    super('UNSUPPORTED_INPUT', message);
    this.kind = kind;
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

/**
 * A value as a message shows it: its type, and the value itself when short,
 * so that "must be an integer, got a string \"3\"" says what was found
 * (String(value) would print 3, [object Object] or nothing at all).
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array (${value.length} item${value.length === 1 ? '' : 's'})`;
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
      return `a string ${JSON.stringify(shown)}`;
    }
    case 'number':
      return `a number (${value})`;
    case 'bigint':
      return `a bigint (${value}n)`;
    case 'boolean':
      return `a boolean (${value})`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default: {
      const name = (value as object).constructor?.name;
      return name && name !== 'Object' ? `a ${name}` : 'an object';
    }
  }
}

/** Throws a ConfigError unless `options` is a plain options object (undefined is left to the caller's default). */
export function checkOptionsObject(options: unknown, who: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(`${who} options must be an object, got ${describeValue(options)}`);
  }
}
