import { useState } from 'preact/hooks';
import { projectPath, withQuery } from '../api';
import { BarChart } from '../components/charts';
import { ErrorMessage, Loading } from '../components/common';
import { formatCost, formatLatency, formatNumber, formatScore } from '../format';
import { useDocumentTitle, useFetch } from '../hooks';
import { Link, setQuery, useLocation } from '../router';
import { TimeRangePicker, useRange } from '../timerange';

interface DashboardAnswer {
  tracesOverTime: { time: string; count: number }[];
  observationsOverTime: { time: string; count: number }[];
  costByModel: { time: string; model: string | null; cost: number }[];
  latencyByName: { name: string | null; p50: number; p90: number; p99: number; count: number }[];
  scores: { name: string; dataType: string; avg: number | null; count: number }[];
  totals: { traces: number; observations: number; totalCost: number };
  granularity?: string;
}

/** Fills the buckets the server left out (no data) so the time axis is even: hourly up to 2 days, else daily. */
function fill<T extends { time: string }>(rows: T[], from: string, to: string, empty: (time: string) => T, granularity?: string): T[] {
  const start = Date.parse(from);
  const end = Date.parse(to);
  const hourly = granularity ? granularity === 'hour' : end - start <= 2 * 86_400_000;
  const step = hourly ? 3_600_000 : 86_400_000;
  if (!(end > start) || (end - start) / step > 400) return rows;
  const seen = new Set(rows.map((r) => Math.floor(Date.parse(r.time) / step)));
  const out = [...rows];
  for (let t = Math.floor(start / step) * step; t <= end; t += step) {
    if (!seen.has(t / step)) out.push(empty(new Date(t).toISOString()));
  }
  return out.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

export function Dashboard({ projectId }: { projectId: string }) {
  useDocumentTitle('Dashboard');
  const { query } = useLocation();
  const range = query.get('range') ?? '7d';
  const [nonce, setNonce] = useState(0);
  const resolved = useRange(range, query.get('from'), query.get('to'), true, nonce);
  const data = useFetch<DashboardAnswer>(
    resolved.fromTimestamp && resolved.toTimestamp
      ? withQuery(projectPath(projectId, '/dashboard'), { fromTimestamp: resolved.fromTimestamp, toTimestamp: resolved.toTimestamp })
      : null,
  );
  const d = data.data;
  const from = resolved.fromTimestamp ?? '';
  const to = resolved.toTimestamp ?? '';
  return (
    <main class="wide">
      <h1>Dashboard</h1>
      <div class="toolbar">
        <TimeRangePicker
          range={range}
          from={query.get('from')}
          to={query.get('to')}
          allowAll={false}
          onChange={(r, from, to) => setQuery({ range: r === '7d' ? null : r, from: r === 'custom' ? from : null, to: r === 'custom' ? to : null })}
        />
        <button type="button" onClick={() => setNonce(nonce + 1)}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={data.error} />
      {!d && !data.error && <Loading />}
      {d && (
        <div aria-busy={data.loading}>
          <section class="totals" aria-label="Totals">
            <div class="stat">
              <span class="label">Traces</span>
              <Link href={`/project/${encodeURIComponent(projectId)}/traces`} class="value" data-testid="total-traces" data-value={String(d.totals.traces)}>
                {formatNumber(d.totals.traces)}
              </Link>
            </div>
            <div class="stat">
              <span class="label">Observations</span>
              <span class="value" data-testid="total-observations" data-value={String(d.totals.observations)}>
                {formatNumber(d.totals.observations)}
              </span>
            </div>
            <div class="stat">
              <span class="label">Total cost</span>
              <span class="value" data-testid="total-cost" data-value={String(d.totals.totalCost)}>
                {formatCost(d.totals.totalCost)}
              </span>
            </div>
          </section>
          <div class="grid2">
            <BarChart title="Traces over time" points={fill(d.tracesOverTime, from, to, (time) => ({ time, count: 0 }), d.granularity).map((p) => ({ time: p.time, value: p.count }))} format={(v) => formatNumber(Math.round(v))} />
            <BarChart title="Observations over time" points={fill(d.observationsOverTime, from, to, (time) => ({ time, count: 0 }), d.granularity).map((p) => ({ time: p.time, value: p.count }))} format={(v) => formatNumber(Math.round(v))} />
            <BarChart title="Cost by model" points={fill(d.costByModel, from, to, (time) => ({ time, model: '', cost: 0 }), d.granularity).map((p) => ({ time: p.time, value: p.cost, series: p.model === '' ? undefined : (p.model ?? 'unknown') }))} format={formatCost} />
            <section class="card">
              <h2>Scores</h2>
              <table aria-label="Average scores">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Type</th>
                    <th scope="col" class="num">Average</th>
                    <th scope="col" class="num">Count</th>
                  </tr>
                </thead>
                <tbody>
                  {d.scores.map((s) => (
                    <tr>
                      <td>{s.name}</td>
                      <td>{s.dataType}</td>
                      <td class="num">{formatScore(s.avg)}</td>
                      <td class="num">{formatNumber(s.count)}</td>
                    </tr>
                  ))}
                  {d.scores.length === 0 && (
                    <tr><td colSpan={4} class="muted">No scores in this time range.</td></tr>
                  )}
                </tbody>
              </table>
            </section>
          </div>
          <section class="card">
            <h2>Latency by observation name</h2>
            <table aria-label="Latency percentiles">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" class="num">p50</th>
                  <th scope="col" class="num">p90</th>
                  <th scope="col" class="num">p99</th>
                  <th scope="col" class="num">Observations</th>
                </tr>
              </thead>
              <tbody>
                {d.latencyByName.map((l) => (
                  <tr>
                    <td>{l.name ?? '(no name)'}</td>
                    <td class="num">{formatLatency(l.p50)}</td>
                    <td class="num">{formatLatency(l.p90)}</td>
                    <td class="num">{formatLatency(l.p99)}</td>
                    <td class="num">{formatNumber(l.count)}</td>
                  </tr>
                ))}
                {d.latencyByName.length === 0 && (
                  <tr><td colSpan={5} class="muted">No observations in this time range.</td></tr>
                )}
              </tbody>
            </table>
          </section>
        </div>
      )}
    </main>
  );
}
