/**
 * Whether this machine can have a hardware GPU at all, without loading Dawn.
 * On Linux every GPU driver WebGPU can reach exposes a device node: a DRM
 * render node (/dev/dri/renderD*: AMD, Intel, Nouveau, ...), NVIDIA's
 * /dev/nvidia*, or WSL2's /dev/dxg. With none of them the only adapter Dawn
 * can find is a software one, which `auto` would not use anyway: checking
 * first saves opening it (about 0.3 s and tens of MiB of Mesa and LLVM).
 */
import { existsSync, readdirSync } from 'node:fs';

/** The GPU device nodes present (Linux), or null where the platform has no such test (macOS, Windows). */
export function gpuDeviceNodes(platform: NodeJS.Platform = process.platform): string[] | null {
  if (platform !== 'linux') return null;
  const found: string[] = [];
  const list = (dir: string, prefix: string): void => {
    try {
      for (const name of readdirSync(dir)) if (name.startsWith(prefix)) found.push(`${dir}/${name}`);
    } catch {
      // no such directory
    }
  };
  list('/dev/dri', 'renderD');
  list('/dev', 'nvidia');
  if (existsSync('/dev/dxg')) found.push('/dev/dxg');
  return found;
}
