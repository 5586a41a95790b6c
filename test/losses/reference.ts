// Independent float64 re-implementations of every loss, in plain JavaScript
// over flat arrays laid out [B, C, S] (S = all spatial voxels), straight from
// the formulas in ../shared/SPEC.md §1–2. No engine code is used here.

export interface Batch {
  x: Float64Array;
  t: Float64Array;
  B: number;
  C: number;
  S: number;
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const logsig = (x: number) => (x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x)));
const idx = (b: number, c: number, s: number, C: number, S: number) => (b * C + c) * S + s;

function each(d: Batch, f: (x: number, t: number, c: number) => void): void {
  for (let b = 0; b < d.B; b++)
    for (let c = 0; c < d.C; c++)
      for (let s = 0; s < d.S; s++) {
        const i = idx(b, c, s, d.C, d.S);
        f(d.x[i], d.t[i], c);
      }
}

type Red = 'flattened' | 'per-class-mean' | 'per-class-sum';

/** Per-class (or one flattened) sums of f(p, t). */
function sums(d: Batch, red: Red, f: (p: number, t: number) => number): number[] {
  const out = new Array<number>(red === 'flattened' ? 1 : d.C).fill(0);
  each(d, (x, t, c) => {
    out[red === 'flattened' ? 0 : c] += f(sig(x), t);
  });
  return out;
}

function reduce(values: number[], red: Red): number {
  if (red === 'flattened') return values[0];
  const s = values.reduce((a, b) => a + b, 0);
  return red === 'per-class-mean' ? s / values.length : s;
}

export function diceIndex(d: Batch, smooth: number, red: Red, squared = false): number {
  const i = sums(d, red, (p, t) => p * t);
  const sp = sums(d, red, (p) => (squared ? p * p : p));
  const st = sums(d, red, (_, t) => (squared ? t * t : t));
  return reduce(
    i.map((v, k) => (2 * v + smooth) / (sp[k] + st[k] + smooth)),
    red,
  );
}

const terms = (d: Batch, red: Red) => (red === 'per-class-sum' ? d.C : 1);

export function weightedCe(d: Batch, wFg: number, wBg: number): number {
  let s = 0;
  each(d, (x, t) => {
    s += wFg * t * logsig(x) + wBg * (1 - t) * logsig(-x);
  });
  return -s / (d.B * d.C * d.S);
}

export const ref = {
  combo(
    d: Batch,
    o: { alpha: number; beta: number; smooth: number; dice: Red; variant: 'paper' | 'keras-release' },
  ): number {
    const wBg = o.variant === 'paper' ? 1 - o.beta : o.beta * (1 - o.beta);
    return o.alpha * weightedCe(d, o.beta, wBg) - (1 - o.alpha) * diceIndex(d, o.smooth, o.dice);
  },
  dice: (d: Batch, o: { smooth: number; squared: boolean; dice: Red }) =>
    terms(d, o.dice) - diceIndex(d, o.smooth, o.dice, o.squared),
  bce: (d: Batch) => weightedCe(d, 1, 1),
  wbce: (d: Batch, o: { beta: number }) => weightedCe(d, o.beta, 1 - o.beta),
  dce: (d: Batch, o: { smooth: number }) => 1 - diceIndex(d, o.smooth, 'flattened') + weightedCe(d, 1, 1),
  focal(d: Batch, o: { alpha: number; gamma: number }): number {
    let s = 0;
    each(d, (x, t) => {
      const p = sig(x);
      const pt = t === 1 ? p : 1 - p;
      const logPt = t === 1 ? logsig(x) : logsig(-x);
      const at = t === 1 ? o.alpha : 1 - o.alpha;
      s += -at * (1 - pt) ** o.gamma * logPt;
    });
    return s / (d.B * d.C * d.S);
  },
  gdl(d: Batch, o: { smooth: number }): number {
    const st = sums(d, 'per-class-sum', (_, t) => t);
    const inter = sums(d, 'per-class-sum', (p, t) => p * t);
    const sp = sums(d, 'per-class-sum', (p) => p);
    const finite = st.filter((v) => v > 0).map((v) => 1 / (v * v));
    const w = st.map((v) => (v > 0 ? 1 / (v * v) : finite.length ? Math.max(...finite) : 1));
    let num = 0,
      den = 0;
    for (let c = 0; c < d.C; c++) {
      num += w[c] * inter[c];
      den += w[c] * (sp[c] + st[c]);
    }
    return 1 - (2 * num + o.smooth) / (den + o.smooth);
  },
  jaccard(d: Batch, o: { smooth: number; dice: Red }): number {
    const i = sums(d, o.dice, (p, t) => p * t),
      sp = sums(d, o.dice, (p) => p),
      st = sums(d, o.dice, (_, t) => t);
    return (
      terms(d, o.dice) -
      reduce(
        i.map((v, k) => (v + o.smooth) / (sp[k] + st[k] - v + o.smooth)),
        o.dice,
      )
    );
  },
  sensspec(d: Batch, o: { r: number }): number {
    let a = 0,
      na = 0,
      b = 0,
      nb = 0;
    each(d, (x, t) => {
      const e = (t - sig(x)) ** 2;
      if (t === 1) {
        a += e;
        na++;
      } else {
        b += e;
        nb++;
      }
    });
    return o.r * (na ? a / na : 0) + (1 - o.r) * (nb ? b / nb : 0);
  },
  tversky(d: Batch, o: { alpha: number; beta: number; smooth: number; dice: Red }): number {
    const tp = sums(d, o.dice, (p, t) => p * t),
      fp = sums(d, o.dice, (p, t) => p * (1 - t)),
      fn = sums(d, o.dice, (p, t) => (1 - p) * t);
    return (
      terms(d, o.dice) -
      reduce(
        tp.map((v, k) => (v + o.smooth) / (v + o.alpha * fp[k] + o.beta * fn[k] + o.smooth)),
        o.dice,
      )
    );
  },
  /** Softmax CE with labels [B, S]; weights per class (all 1 for plain CE), weighted mean. */
  ce(x: Float64Array, labels: number[], B: number, C: number, S: number, weights?: number[]): number {
    let num = 0,
      den = 0;
    for (let b = 0; b < B; b++)
      for (let s = 0; s < S; s++) {
        const v = Array.from({ length: C }, (_, c) => x[idx(b, c, s, C, S)]);
        const m = Math.max(...v);
        const lse = m + Math.log(v.reduce((a, u) => a + Math.exp(u - m), 0));
        const y = labels[b * S + s];
        const w = weights ? weights[y] : 1;
        num += -w * (v[y] - lse);
        den += w;
      }
    return num / den;
  },
};
