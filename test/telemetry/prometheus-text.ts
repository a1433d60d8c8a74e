// Reads a Prometheus text exposition with parse-prometheus-text-format, for assertions on series.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export type Series = { labels: Record<string, string>; value: number };

export type Exposition = {
  /** Family name → TYPE (COUNTER, GAUGE, HISTOGRAM, …). */
  types: Map<string, string>;
  /** Every sample of one name (`x_total`, `x_bucket`, `x_count`, …), with its labels. */
  series(name: string): Series[];
  /** The value of the one sample of `name` whose labels include `labels`; 0 when there is none. */
  value(name: string, labels?: Record<string, string>): number;
};

function matches(labels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

/**
 * The parser folds every series of a labelled histogram into one (it keys buckets by `le` alone), so
 * samples are read from a second pass without the histogram TYPE lines, where `_bucket`, `_count` and
 * `_sum` are plain samples that keep their labels. The first pass still checks the whole text parses.
 */
export function parseExposition(text: string): Exposition {
  const types = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family.type]));
  const plain = text.replace(/^# TYPE \S+ histogram$/gm, '');
  const byName = new Map<string, Series[]>();
  for (const family of parsePrometheusTextFormat(plain)) {
    const list = byName.get(family.name) ?? [];
    for (const sample of family.metrics) {
      if (sample.value !== undefined) list.push({ labels: sample.labels ?? {}, value: Number(sample.value) });
    }
    byName.set(family.name, list);
  }
  const series = (name: string) => byName.get(name) ?? [];
  return {
    types,
    series,
    value(name, labels = {}) {
      const found = series(name).filter((s) => matches(s.labels, labels));
      if (found.length > 1)
        throw new Error(`${found.length} series of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value ?? 0;
    },
  };
}
