// Reading the server's Prometheus text (GET /metrics) in the load benchmarks (ingest_load.mjs,
// otel_load.mjs).

//! The values of a metric's series in the order /metrics lists them: every series of `name`, or
//! with `labels` only the one whose label set is exactly that text (`phase="load"`).
export function metricValues(text, name, labels = null) {
  const series = labels === null ? '(?:\\{[^}]*\\})?' : `\\{${labels}\\}`;
  return [...String(text).matchAll(new RegExp(`^${name}${series} ([^\\s]+)`, 'gm'))].map((m) => Number(m[1]));
}

//! The first such value, or null when there is none.
export function metricValue(text, name, labels = null) {
  return metricValues(text, name, labels)[0] ?? null;
}

//! The sum of every series of a metric, or null when it has none.
export function metricSum(text, name) {
  const values = metricValues(text, name);
  return values.length ? values.reduce((a, b) => a + b, 0) : null;
}
