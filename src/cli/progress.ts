/**
 * A one-line progress bar on stderr (bytes, records, rate, ETA), redrawn at
 * most 5 times a second, only when stderr is a terminal.
 */
export class Progress {
  private last = -Infinity;
  private readonly t0 = performance.now();
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly totalBytes: number | null,
  ) {}

  static create(enabled: boolean, totalBytes: number | null): Progress | null {
    return enabled && process.stderr.isTTY ? new Progress(process.stderr, totalBytes) : null;
  }

  update(bytes: number, records: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const secs = (now - this.t0) / 1000;
    const rate = secs > 0 ? bytes / 1e6 / secs : 0;
    let line: string;
    if (this.totalBytes && this.totalBytes > 0) {
      const frac = Math.min(1, bytes / this.totalBytes);
      const width = 20;
      const fill = Math.round(frac * width);
      const eta = rate > 0 ? (this.totalBytes - bytes) / 1e6 / rate : 0;
      line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(100 * frac).toFixed(1)}% ${fmtBytes(bytes)}/${fmtBytes(this.totalBytes)} ${records} rec ${rate.toFixed(1)} MB/s ETA ${fmtTime(eta)}`;
    } else {
      line = `${fmtBytes(bytes)} ${records} records ${rate.toFixed(1)} MB/s ${fmtTime(secs)}`;
    }
    const cols = this.out.columns ?? 100;
    this.out.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 2))}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
  }
}

function fmtBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)}G`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)}M`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)}K`;
  return `${n}B`;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return `${m}:${String(sec).padStart(2, '0')}`;
}
