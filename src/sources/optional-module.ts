/**
 * Format libraries (Parquet, Arrow, zstd) are optional dependencies: users who
 * route plain text never load them, and an install without them still works.
 * They are imported on first use; a missing one is a one-line message that
 * says which package to install and why.
 */
import { MissingDependencyError } from '../errors.js';

const cache = new Map<string, Promise<unknown>>();

function isMissing(err: unknown, name: string): boolean {
  const e = err as NodeJS.ErrnoException;
  return (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && typeof e.message === 'string' && e.message.includes(name);
}

/** Test hook: pretend these packages (comma-separated) are not installed. */
export const HIDE_MODULES_ENV = 'MOE_ROUTER_TEST_HIDE_MODULES';

/**
 * Imports `name`, or throws MissingDependencyError("<purpose> needs the package <name>: npm install <name>").
 * The loader is a parameter so that each call site names the module literally (bundlers and tsc see it).
 */
export function loadOptional<T>(name: string, purpose: string, load: () => Promise<T>): Promise<T> {
  let p = cache.get(name) as Promise<T> | undefined;
  if (!p) {
    const hidden = (process.env[HIDE_MODULES_ENV] ?? '').split(',').includes(name);
    p = (hidden ? Promise.reject(Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' })) : load()).catch(
      (err: unknown) => {
        cache.delete(name);
        if (isMissing(err, name)) throw new MissingDependencyError(name, purpose);
        throw err;
      },
    );
    cache.set(name, p);
  }
  return p;
}
