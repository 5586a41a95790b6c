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
  #done = 0;
  #lastPlain = -1;
  /** Where the rate is measured from: the first update (work done before it, e.g. on resume, is not timed). */
  #origin: { time: number; done: number } | null = null;

  constructor(o: ProgressOptions) {
    this.#o = { unit: 'it', stream: process.stderr, ...o };
  }

  /** Advances by `n` and redraws; `info` is shown after the bar (e.g. "loss 0.31"). */
  tick(n = 1, info = ''): void {
    this.set(this.#done + n, info);
  }

  /** Items per second since the first update; null until some time has passed and some work was done. */
  rate(now = performance.now()): number | null {
    if (!this.#origin) return null;
    const seconds = (now - this.#origin.time) / 1000;
    const done = this.#done - this.#origin.done;
    return seconds > 0.05 && done > 0 ? done / seconds : null;
  }

  /** Sets how much is done and redraws. */
  set(done: number, info = ''): void {
    const now = performance.now();
    this.#origin ??= { time: now, done: Math.min(this.#o.total, done) };
    this.#done = Math.min(this.#o.total, done);
    const { total, label, unit, stream } = this.#o;
    const rate = this.rate(now);
    const eta = rate === null ? NaN : (total - this.#done) / rate;
    const shown = rate === null ? '--' : rate.toFixed(rate < 10 ? 2 : 0);
    const frac = total > 0 ? this.#done / total : 1;
    const stats = `${this.#done}/${total} ${shown} ${unit}/s ETA ${fmtTime(eta)}` + (info ? ` ${info}` : '');
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
