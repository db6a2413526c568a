// Small SVG charts: bars over time, optionally stacked by series. Each chart also has a visually
// hidden table of its numbers for screen readers.
import { formatDate } from '../format';

export interface Point {
  time: string;
  value: number;
  series?: string;
}

const COLORS = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

export function BarChart(props: { title: string; points: Point[]; format: (v: number) => string }) {
  const width = 640;
  const height = 200;
  const pad = { left: 56, right: 8, top: 8, bottom: 28 };
  const times = [...new Set(props.points.map((p) => p.time))].sort();
  const series = [...new Set(props.points.filter((p) => p.series !== undefined || p.value !== 0).map((p) => p.series ?? ''))];
  const totals = new Map<string, number>();
  for (const p of props.points) totals.set(p.time, (totals.get(p.time) ?? 0) + p.value);
  const max = niceMax(Math.max(0, ...totals.values()));
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const slot = times.length > 0 ? innerW / times.length : innerW;
  const barW = Math.max(1, slot * 0.8);
  const y = (v: number) => pad.top + innerH - (v / max) * innerH;
  const labelEvery = Math.max(1, Math.ceil(times.length / 6));
  const offsets = new Map<string, number>();

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      {props.points.every((p) => p.value === 0) ? (
        <p class="muted">No data in this time range.</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${props.title}: ${times.length} buckets, maximum ${props.format(Math.max(...totals.values()))}`}>
          {[0, 0.5, 1].map((f) => (
            <g>
              <line x1={pad.left} x2={width - pad.right} y1={y(max * f)} y2={y(max * f)} class="grid" />
              <text x={pad.left - 6} y={y(max * f) + 4} text-anchor="end" class="axis">
                {props.format(max * f)}
              </text>
            </g>
          ))}
          {props.points.map((p) => {
            if (p.value === 0) return null;
            const i = times.indexOf(p.time);
            const base = offsets.get(p.time) ?? 0;
            offsets.set(p.time, base + p.value);
            const color = COLORS[series.indexOf(p.series ?? '') % COLORS.length];
            return (
              <rect x={pad.left + i * slot + (slot - barW) / 2} y={y(base + p.value)} width={barW} height={Math.max(0, y(base) - y(base + p.value))} fill={color}>
                <title>
                  {formatDate(p.time)}
                  {p.series ? ` · ${p.series}` : ''}: {props.format(p.value)}
                </title>
              </rect>
            );
          })}
          {times.map((t, i) =>
            i % labelEvery === 0 ? (
              <text x={pad.left + i * slot + slot / 2} y={height - 8} text-anchor="middle" class="axis">
                {new Date(t).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: times.length > 1 && Date.parse(times[1]) - Date.parse(times[0]) < 86_400_000 ? '2-digit' : undefined })}
              </text>
            ) : null,
          )}
        </svg>
      )}
      {series.length > 1 || (series.length === 1 && series[0]) ? (
        <ul class="legend" aria-label={`${props.title} legend`}>
          {series.map((s, i) => (
            <li>
              <span class="swatch" style={{ background: COLORS[i % COLORS.length] }} /> {s || 'unknown'}
            </li>
          ))}
        </ul>
      ) : null}
      <table class="sr-only" aria-label={`${props.title} data`}>
        <tbody>
          {props.points.filter((p) => p.value !== 0 || p.series === undefined).map((p) => (
            <tr>
              <td>{p.time}</td>
              {p.series !== undefined && <td>{p.series}</td>}
              <td>{props.format(p.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
