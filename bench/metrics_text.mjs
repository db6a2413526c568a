// Reading the server's Prometheus text (GET /metrics) in the benchmarks (ingest_load.mjs,
// otel_load.mjs, read_bench.mjs, ui_bench.mjs).

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

//! Waits until the embedded server has read its stored rows' ids after start-up
//! (`langfuse_ingestion_known_ids_ready` is 1; a few seconds at 10 million rows): until then that
//! read shares the cores with whatever a benchmark measures. `getMetrics()` answers GET /metrics
//! as { status, body }. Resolves true once ready, false for a server without the gauge (an older
//! build); rejects after `timeoutMs`.
export async function waitForStoredIds(getMetrics, timeoutMs = 300_000) {
  const started = Date.now();
  for (;;) {
    const m = await getMetrics();
    const ready = m.status === 200 ? metricValue(m.body, 'langfuse_ingestion_known_ids_ready') : 0;
    if (ready === null) return false;
    if (ready === 1) return true;
    if (Date.now() - started > timeoutMs) throw new Error(`stored ids not read within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
