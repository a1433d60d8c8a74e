// Labelled counters and histograms for the series every request touches, kept as plain numbers and read
// by prom-client's registry only at scrape time (metrics.ts registers them). prom-client's own Counter
// and Histogram check and hash their label set on every inc() and observe(), even through a labelled
// child: on the request path that was a few µs per request. Here a series is found by one Map lookup per
// label value and counted with an add. The scrape output is the same text prom-client writes.

/** A value as prom-client's registry reads it from a metric's get(). */
export type ExportedValue = { labels: Record<string, string | number>; value: number; metricName?: string };

export type ExportedMetric = {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  /** How the primary sums a worker's copy into its own (prom-client's AggregatorRegistry). */
  aggregator: 'sum';
  values: ExportedValue[];
};

type Series<T> = { labels: Record<string, string>; data: T };

/** Series keyed by their label values, in labelNames order; created on first use. */
function seriesTable<T>(labelNames: readonly string[], make: () => T) {
  const all: Series<T>[] = [];
  let root = new Map<string, unknown>();
  return {
    all,
    get(values: readonly string[]): T {
      let node: Map<string, unknown> = root;
      for (let i = 0; i < values.length - 1; i++) {
        let next = node.get(values[i]!) as Map<string, unknown> | undefined;
        if (!next) {
          next = new Map();
          node.set(values[i]!, next);
        }
        node = next;
      }
      const last = values[values.length - 1]!;
      let series = node.get(last) as Series<T> | undefined;
      if (!series) {
        const labels: Record<string, string> = {};
        labelNames.forEach((name, i) => {
          labels[name] = values[i]!;
        });
        series = { labels, data: make() };
        node.set(last, series);
        all.push(series);
      }
      return series.data;
    },
    reset(): void {
      all.length = 0;
      root = new Map();
    },
  };
}

export type HotCounter = {
  inc(values: readonly string[], by?: number): void;
  get(): Promise<ExportedMetric>;
  reset(): void;
  readonly name: string;
  readonly help: string;
};

export function createHotCounter(name: string, help: string, labelNames: readonly string[]): HotCounter {
  const table = seriesTable(labelNames, () => ({ value: 0 }));
  return {
    name,
    help,
    inc(values, by = 1) {
      table.get(values).value += by;
    },
    async get() {
      const values = table.all.map((s) => ({ labels: s.labels, value: s.data.value }));
      return { name, help, type: 'counter', aggregator: 'sum', values };
    },
    reset: () => table.reset(),
  };
}

type Buckets = { counts: Float64Array; sum: number; count: number };

export type HotHistogram = {
  observe(values: readonly string[], value: number): void;
  get(): Promise<ExportedMetric>;
  reset(): void;
  readonly name: string;
  readonly help: string;
};

/** Cumulative `le` buckets over `bounds` (ascending), plus +Inf, `_sum` and `_count`, as prom-client writes. */
export function createHotHistogram(
  name: string,
  help: string,
  labelNames: readonly string[],
  bounds: readonly number[],
): HotHistogram {
  const table = seriesTable<Buckets>(labelNames, () => ({
    counts: new Float64Array(bounds.length),
    sum: 0,
    count: 0,
  }));
  return {
    name,
    help,
    observe(values, value) {
      const buckets = table.get(values);
      // The first bound at or above the value; past the last one it counts only toward +Inf.
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]!) {
          buckets.counts[i]!++;
          break;
        }
      }
      buckets.sum += value;
      buckets.count++;
    },
    async get() {
      const values: ExportedValue[] = [];
      for (const { labels, data } of table.all) {
        let cumulative = 0;
        bounds.forEach((le, i) => {
          cumulative += data.counts[i]!;
          values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: { ...labels, le: '+Inf' }, value: data.count, metricName: `${name}_bucket` });
        values.push({ labels, value: data.sum, metricName: `${name}_sum` });
        values.push({ labels, value: data.count, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset: () => table.reset(),
  };
}
