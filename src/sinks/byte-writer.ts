/** Anything bytes can be appended to, in order: an AtomicFile, stdout. */
export interface ByteWriter {
  write(data: string | Uint8Array): Promise<void>;
}
