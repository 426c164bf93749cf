/**
 * EGL_PLATFORM and worker threads. Mesa's EGL reads EGL_PLATFORM with getenv(),
 * from the process's real environment, when Dawn initialises EGL. Writes to
 * process.env on the main thread reach that environment; a worker thread's
 * process.env is its own copy (unless the Worker was created with
 * env: SHARE_ENV), so a value set there, or given through `new Worker(..., { env })`,
 * never reaches Mesa. Without this module the failure read "tried OpenGL ES
 * (EGL surfaceless)" although surfaceless never took effect.
 */
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

export interface EglSetup {
  /** What the failed attempt is called in the "tried ..." list. */
  failedLabel: string;
  /** Why it failed and what to do, when that is known (worker threads); null otherwise. */
  problem: string | null;
}

const WHAT_TO_DO =
  'Start Node with it in the environment (EGL_PLATFORM=surfaceless node app.js), ' +
  "or set process.env.EGL_PLATFORM = 'surfaceless' on the main thread before creating the Worker " +
  '(or create the Worker with env: SHARE_ENV), or open the GPU on the main thread; or route on the CPU (backend "cpu").';

/**
 * EGL_PLATFORM in the environment the process started with (Linux: from
 * /proc/self/environ), or undefined where that cannot be read. It misses a
 * value the main thread set later, so it only ever clears a suspicion.
 */
function startEnvironmentValue(name: string): string | undefined {
  try {
    const prefix = `${name}=`;
    const entry = readFileSync('/proc/self/environ', 'latin1').split('\0').find((e) => e.startsWith(prefix));
    return entry?.slice(prefix.length);
  } catch {
    return undefined;
  }
}

/**
 * Asks Mesa for its surfaceless platform (no display needed) unless the user
 * chose a platform, and says whether the request can have taken effect.
 */
export function requestSurfacelessEgl(backendName: string, mainThread: boolean = isMainThread): EglSetup {
  const before = process.env.EGL_PLATFORM;
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const platform = before ?? 'surfaceless';
  const plain: EglSetup = { failedLabel: `${backendName} (EGL ${platform})`, problem: null };
  if (mainThread) return plain;
  const atStart = startEnvironmentValue('EGL_PLATFORM');
  if (atStart !== undefined && (before === undefined || before === atStart)) {
    // The real environment had it from the start: whatever failed, it was not this.
    return { failedLabel: `${backendName} (EGL ${atStart})`, problem: null };
  }
  if (before === undefined) {
    return {
      failedLabel: `${backendName} (EGL_PLATFORM unset, and a worker thread cannot set it)`,
      problem:
        'This is a worker thread and EGL_PLATFORM was not in its environment: setting it here only changes ' +
        "this thread's copy of process.env, which Mesa's EGL never reads, so EGL ran without the surfaceless platform. " +
        WHAT_TO_DO,
    };
  }
  return {
    failedLabel: `${backendName} (EGL_PLATFORM=${before} in this worker thread's process.env, not in the environment Node started with)`,
    problem:
      `This is a worker thread: its process.env has EGL_PLATFORM=${before}, but Node did not start with it, and Mesa's EGL reads ` +
      "the process's real environment: a value set inside the worker, or passed through new Worker(..., { env }), does not reach it " +
      '(one set on the main thread before the Worker was created does). ' +
      WHAT_TO_DO,
  };
}
