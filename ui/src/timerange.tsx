// Time-range presets shared by the traces page and the dashboard, kept in the URL as
// `range` (a preset) or `range=custom&from=...&to=...`.
import { useMemo } from 'preact/hooks';

export const PRESETS: { value: string; label: string; minutes: number }[] = [
  { value: '30m', label: 'Past 30 minutes', minutes: 30 },
  { value: '1h', label: 'Past hour', minutes: 60 },
  { value: '6h', label: 'Past 6 hours', minutes: 360 },
  { value: '24h', label: 'Past 24 hours', minutes: 1440 },
  { value: '7d', label: 'Past 7 days', minutes: 7 * 1440 },
  { value: '30d', label: 'Past 30 days', minutes: 30 * 1440 },
  { value: '90d', label: 'Past 90 days', minutes: 90 * 1440 },
];

export interface Range {
  fromTimestamp?: string;
  toTimestamp?: string;
}

function validIso(value: string | null): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Resolves a preset to timestamps; `now` is rounded to the minute so the result is stable. */
export function resolveRange(range: string, from: string | null, to: string | null, withEnd: boolean, nonce = 0): Range {
  if (range === 'custom') return { fromTimestamp: validIso(from), toTimestamp: validIso(to) };
  const preset = PRESETS.find((p) => p.value === range);
  if (!preset) return {};
  const minute = 60_000;
  const now = nonce ? Date.now() : Math.ceil(Date.now() / minute) * minute;
  return {
    fromTimestamp: new Date(now - preset.minutes * minute).toISOString(),
    toTimestamp: withEnd ? new Date(now).toISOString() : undefined,
  };
}

export function useRange(range: string, from: string | null, to: string | null, withEnd: boolean, nonce = 0): Range {
  return useMemo(() => resolveRange(range, from, to, withEnd, nonce), [range, from, to, withEnd, nonce]);
}

/** `datetime-local` wants local time without zone. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function TimeRangePicker(props: {
  range: string;
  from: string | null;
  to: string | null;
  allowAll: boolean;
  onChange: (range: string, from?: string, to?: string) => void;
}) {
  const resolved = resolveRange(props.range, props.from, props.to, true);
  return (
    <div class="timerange">
      <label>
        Time range
        <select
          value={props.range}
          onChange={(e) => {
            const value = e.currentTarget.value;
            if (value === 'custom') {
              const current = resolveRange(props.range === 'all' ? '24h' : props.range, props.from, props.to, true);
              props.onChange('custom', current.fromTimestamp, current.toTimestamp ?? new Date().toISOString());
            } else {
              props.onChange(value);
            }
          }}
        >
          {PRESETS.map((p) => (
            <option value={p.value}>{p.label}</option>
          ))}
          {props.allowAll && <option value="all">All time</option>}
          <option value="custom">Custom range</option>
        </select>
      </label>
      {props.range === 'custom' && (
        <>
          <label>
            From
            <input
              type="datetime-local"
              value={toLocalInput(resolved.fromTimestamp)}
              onChange={(e) => {
                const value = validIso(e.currentTarget.value);
                if (value) props.onChange('custom', value, resolved.toTimestamp);
              }}
            />
          </label>
          <label>
            To
            <input
              type="datetime-local"
              value={toLocalInput(resolved.toTimestamp)}
              onChange={(e) => {
                const value = validIso(e.currentTarget.value);
                if (value) props.onChange('custom', resolved.fromTimestamp, value);
              }}
            />
          </label>
        </>
      )}
    </div>
  );
}
