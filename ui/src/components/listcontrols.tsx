// Controls shared by the session and user lists: a search box, a time range and sortable headers,
// all kept in the URL query (`q`, `range`/`from`/`to`, `orderBy`, `page`) like the traces page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { projectPath, withQuery, type Page } from '../api';
import { SortHeader } from './common';
import { useDebounced, useFetch } from '../hooks';
import { setQuery, useLocation } from '../router';
import { TimeRangePicker, useRange, type Range } from '../timerange';

/** A search box that writes `param` to the URL when typing pauses (or on Enter), back to page 1. */
export function UrlSearch(props: { label: string; param: string; value: string; placeholder?: string }) {
  const [text, setText] = useState(props.value);
  // Set by typing, cleared when the URL changes from elsewhere: a pending value typed before
  // that change must not write itself back.
  const typed = useRef(false);
  useEffect(() => {
    typed.current = false;
    setText(props.value);
  }, [props.value]);
  const debounced = useDebounced(text, 300);
  useEffect(() => {
    if (typed.current && debounced.trim() !== props.value) {
      typed.current = false;
      setQuery({ [props.param]: debounced.trim(), page: null });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);
  return (
    <label class="search">
      {props.label}
      <input
        type="search"
        value={text}
        placeholder={props.placeholder}
        onInput={(e) => {
          typed.current = true;
          setText(e.currentTarget.value);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            typed.current = false;
            setQuery({ [props.param]: e.currentTarget.value.trim(), page: null });
          }
        }}
      />
    </label>
  );
}

/** The list's time range from the URL (`range`, default `defaultRange`; `from`/`to` when custom). */
export function useUrlRange(query: URLSearchParams, defaultRange: string): { range: string; resolved: Range } {
  const range = query.get('range') ?? defaultRange;
  const resolved = useRange(range, query.get('from'), query.get('to'), false);
  return { range, resolved };
}

export function UrlTimeRange(props: { query: URLSearchParams; range: string; defaultRange: string }) {
  return (
    <TimeRangePicker
      range={props.range}
      from={props.query.get('from')}
      to={props.query.get('to')}
      allowAll
      onChange={(r, from, to) =>
        setQuery({
          range: r === props.defaultRange ? null : r,
          from: r === 'custom' ? from : null,
          to: r === 'custom' ? to : null,
          page: null,
        })
      }
    />
  );
}

/** `orderBy` from the URL when it names one of `columns` (`column` or `column.asc|desc`), else the default. */
export function useUrlOrder(query: URLSearchParams, columns: string[], defaultOrder: string): string {
  const value = query.get('orderBy');
  if (!value) return defaultOrder;
  const [column, direction = 'desc', ...rest] = value.split('.');
  if (rest.length > 0 || !columns.includes(column) || (direction !== 'asc' && direction !== 'desc')) return defaultOrder;
  return `${column}.${direction}`;
}

/**
 * A server-sorted, searchable, time-bounded list page whose state is the URL (`page`, `q`,
 * `range`/`from`/`to`, `orderBy`): the request for `path` (50 rows a page) and a sortable header
 * maker for its columns.
 */
export function useUrlList<Row>(projectId: string, path: string, columns: string[], defaultOrder: string) {
  const { query } = useLocation();
  const page = Math.max(1, Number(query.get('page')) || 1);
  const { range, resolved } = useUrlRange(query, 'all');
  const orderBy = useUrlOrder(query, columns, defaultOrder);
  const search = query.get('q') ?? '';
  const list = useFetch<Page<Row>>(
    withQuery(projectPath(projectId, path), {
      page,
      limit: 50,
      orderBy,
      search: search || undefined,
      fromTimestamp: resolved.fromTimestamp,
      toTimestamp: resolved.toTimestamp,
    }),
  );
  const sort = (column: string, label: string, numeric = false) => (
    <SortHeader column={column} label={label} orderBy={orderBy} class={numeric ? 'num' : undefined} onSort={(o) => setQuery({ orderBy: o === defaultOrder ? null : o, page: null })} />
  );
  return { query, page, range, search, list, sort };
}
