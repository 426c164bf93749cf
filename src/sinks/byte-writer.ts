/**
 * Anything bytes can be appended to, in order: an AtomicFile, stdout. Once
 * write() resolves the writer holds no reference to `data` (it wrote it or
 * copied it): the caller may reuse the memory, e.g. hand it back to the
 * worker that formatted it.
 */
export interface ByteWriter {
  write(data: string | Uint8Array): Promise<void>;
}
