// A progress bar with rate and ETA on a terminal; plain lines (every ~10 %) when
// the output is not a TTY (CI logs, pipes).

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  stream?: NodeJS.WriteStream;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60),
    sec = Math.round(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

export class Progress {
  readonly #o: Required<ProgressOptions>;
  readonly #start = performance.now();
  #done = 0;
  #lastPlain = -1;

  constructor(o: ProgressOptions) {
    this.#o = { unit: 'it', stream: process.stderr, ...o };
  }

  /** Advances by `n` and redraws; `info` is shown after the bar (e.g. "loss 0.31"). */
  tick(n = 1, info = ''): void {
    this.set(this.#done + n, info);
  }

  /** Sets how much is done and redraws. */
  set(done: number, info = ''): void {
    this.#done = Math.min(this.#o.total, done);
    const { total, label, unit, stream } = this.#o;
    const elapsed = (performance.now() - this.#start) / 1000;
    const rate = this.#done / Math.max(elapsed, 1e-9);
    const eta = (total - this.#done) / rate;
    const frac = total > 0 ? this.#done / total : 1;
    const stats =
      `${this.#done}/${total} ${rate.toFixed(rate < 10 ? 2 : 0)} ${unit}/s ETA ${fmtTime(eta)}` +
      (info ? ` ${info}` : '');
    if (stream.isTTY) {
      const width = 24;
      const fill = Math.round(frac * width);
      stream.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${stats}\x1b[K`);
      if (this.#done === total) stream.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.#lastPlain || this.#done === total) {
        this.#lastPlain = decile;
        stream.write(`${label}: ${stats}\n`);
      }
    }
  }
}
