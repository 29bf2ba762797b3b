// A fixed-size log-linear latency histogram (the HdrHistogram idea, cut down): whole
// microseconds below 256 µs, then 128 buckets per power of two up to 2^31 µs (~36 min). Memory is
// 3200 counters whatever the sample count; a reported percentile is within half a bucket of the
// exact one, i.e. within 0.5 µs or 1/256 of the value. min, max, mean and std are exact.

const subBits = 7;
const subCount = 1 << subBits;
/** Below this many µs each microsecond has its own bucket. */
const linearUs = subCount * 2;
/** Larger samples are clamped into the last bucket (min/max/mean stay exact). */
const valueUsMax = 0x7fffffff;
const octaves = 31 - (subBits + 1);
export const histogramBuckets = linearUs + octaves * subCount;

function bucketOf(us: number): number {
  if (us < linearUs) return us;
  const exponent = 31 - Math.clz32(us);
  const shift = exponent - subBits;
  return linearUs + (shift - 1) * subCount + ((us >>> shift) - subCount);
}

/** Lowest µs value in bucket i and the bucket's width in µs. */
function bucketLowUs(i: number): number {
  if (i < linearUs) return i;
  const j = i - linearUs;
  return (subCount + (j & (subCount - 1))) * 2 ** ((j >>> subBits) + 1);
}

function bucketWidthUs(i: number): number {
  return i < linearUs ? 1 : 2 ** (((i - linearUs) >>> subBits) + 1);
}

/** 1-based rank of the p-th percentile among n sorted samples (nearest-rank definition). */
export function percentileRank(percent: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil((percent * n) / 100)));
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(histogramBuckets);
  private n = 0;
  private minMs = Infinity;
  private maxMs = -Infinity;
  // Welford's running mean and sum of squared deviations: stable over millions of samples.
  private meanMs = 0;
  private m2 = 0;

  get count(): number {
    return this.n;
  }

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const us = Math.min(valueUsMax, Math.floor(v * 1000));
    this.counts[bucketOf(us)]!++;
    this.n++;
    if (v < this.minMs) this.minMs = v;
    if (v > this.maxMs) this.maxMs = v;
    const d = v - this.meanMs;
    this.meanMs += d / this.n;
    this.m2 += d * (v - this.meanMs);
  }

  get min(): number {
    return this.n === 0 ? 0 : this.minMs;
  }
  get max(): number {
    return this.n === 0 ? 0 : this.maxMs;
  }
  get mean(): number {
    return this.meanMs;
  }
  /** Population standard deviation, as SeaweedFS's report prints. */
  get std(): number {
    return this.n === 0 ? 0 : Math.sqrt(this.m2 / this.n);
  }

  /** The p-th percentile in ms (0 with no samples); p=100 is the exact max. */
  percentile(percent: number): number {
    if (this.n === 0) return 0;
    const rank = percentileRank(percent, this.n);
    if (rank === this.n) return this.maxMs;
    if (rank === 1) return this.minMs;
    let seen = 0;
    for (let i = 0; i < histogramBuckets; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const midMs = (bucketLowUs(i) + bucketWidthUs(i) / 2) / 1000;
        return Math.min(this.maxMs, Math.max(this.minMs, midMs));
      }
    }
    return this.maxMs;
  }
}
