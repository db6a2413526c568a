import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { projectPath, withQuery, type Page } from '../api';
import { DateTime, ErrorMessage, Pagination, SortHeader } from '../components/common';
import { formatCost, formatLatency, formatNumber, formatScore } from '../format';
import { useDebounced, useDocumentTitle, useFetch } from '../hooks';
import { navigate, setQuery, useLocation } from '../router';
import { TimeRangePicker, useRange } from '../timerange';

export interface TraceRow {
  id: string;
  timestamp: string;
  name: string | null;
  userId: string | null;
  sessionId: string | null;
  tags: string[];
  environment: string | null;
  release: string | null;
  version: string | null;
  level: string;
  latency: number | null;
  totalCost: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  totalTokens: number | null;
  observationCount: number;
  scores: { name: string; value: number | null; stringValue: string | null; dataType: string }[];
}

interface FilterOptions {
  names: string[];
  tags: string[];
  environments: string[];
  users: string[];
}

interface Column {
  id: string;
  label: string;
  sort?: string;
  numeric?: boolean;
  render: (row: TraceRow) => preact.ComponentChildren;
}

const COLUMNS: Column[] = [
  { id: 'timestamp', label: 'Timestamp', sort: 'timestamp', render: (r) => <DateTime value={r.timestamp} /> },
  { id: 'name', label: 'Name', sort: 'name', render: (r) => r.name ?? '' },
  { id: 'id', label: 'ID', render: (r) => <code>{r.id}</code> },
  { id: 'userId', label: 'User', render: (r) => r.userId ?? '' },
  { id: 'sessionId', label: 'Session', render: (r) => r.sessionId ?? '' },
  { id: 'tags', label: 'Tags', render: (r) => r.tags.map((t) => <span class="tag">{t}</span>) },
  { id: 'environment', label: 'Environment', render: (r) => r.environment ?? '' },
  { id: 'level', label: 'Level', render: (r) => <span class={`level level-${r.level}`}>{r.level}</span> },
  { id: 'latency', label: 'Latency', sort: 'latency', numeric: true, render: (r) => formatLatency(r.latency) },
  { id: 'inputTokens', label: 'Input tokens', numeric: true, render: (r) => formatNumber(r.inputTokens) },
  { id: 'outputTokens', label: 'Output tokens', numeric: true, render: (r) => formatNumber(r.outputTokens) },
  { id: 'totalTokens', label: 'Total tokens', sort: 'totalTokens', numeric: true, render: (r) => formatNumber(r.totalTokens) },
  { id: 'totalCost', label: 'Cost', sort: 'totalCost', numeric: true, render: (r) => formatCost(r.totalCost) },
  { id: 'observationCount', label: 'Observations', numeric: true, render: (r) => formatNumber(r.observationCount) },
  {
    id: 'scores',
    label: 'Scores',
    render: (r) =>
      r.scores.map((s) => (
        <span class="tag">
          {s.name}: {formatScore(s.value, s.stringValue)}
        </span>
      )),
  },
  { id: 'release', label: 'Release', render: (r) => r.release ?? '' },
  { id: 'version', label: 'Version', render: (r) => r.version ?? '' },
];
const DEFAULT_COLUMNS = ['timestamp', 'name', 'userId', 'sessionId', 'tags', 'level', 'latency', 'totalTokens', 'totalCost', 'scores'];
const COLUMNS_KEY = 'langfuse.traces.columns';

function loadColumns(): string[] {
  try {
    const stored = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? 'null') as unknown;
    if (Array.isArray(stored) && stored.every((c) => typeof c === 'string')) {
      const known = stored.filter((c) => COLUMNS.some((col) => col.id === c));
      if (known.length > 0) return known;
    }
  } catch {
    // ignore a corrupt value
  }
  return DEFAULT_COLUMNS;
}

/** The public API's filter array from the URL's filter parameters. */
export function buildFilter(query: URLSearchParams): unknown[] {
  const filter: unknown[] = [];
  const name = query.get('name');
  if (name) filter.push({ type: 'stringOptions', column: 'name', operator: 'any of', value: [name] });
  const user = query.get('user');
  if (user) filter.push({ type: 'string', column: 'userId', operator: '=', value: user });
  const session = query.get('session');
  if (session) filter.push({ type: 'string', column: 'sessionId', operator: '=', value: session });
  const tags = (query.get('tags') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.length > 0) filter.push({ type: 'arrayOptions', column: 'tags', operator: 'all of', value: tags });
  const env = query.get('env');
  if (env) filter.push({ type: 'stringOptions', column: 'environment', operator: 'any of', value: [env] });
  const level = query.get('level');
  if (level) filter.push({ type: 'stringOptions', column: 'level', operator: 'any of', value: [level] });
  const metaKey = query.get('mk');
  const metaValue = query.get('mv');
  if (metaKey) filter.push({ type: 'stringObject', column: 'metadata', key: metaKey, operator: '=', value: metaValue ?? '' });
  return filter;
}

/** A text filter that writes to the URL when the user stops typing or leaves the field. */
function FilterInput(props: { label: string; param: string; value: string; options?: string[]; placeholder?: string }) {
  const [text, setText] = useState(props.value);
  // Set by typing, cleared when the URL changes from elsewhere (e.g. "Clear filters"): a delayed
  // value typed before that change must not write itself back into the URL.
  const typed = useRef(false);
  useEffect(() => {
    typed.current = false;
    setText(props.value);
  }, [props.value]);
  const debounced = useDebounced(text, 400);
  useEffect(() => {
    if (typed.current && debounced !== props.value) {
      typed.current = false;
      setQuery({ [props.param]: debounced.trim(), page: null });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);
  const listId = props.options ? `options-${props.param}` : undefined;
  return (
    <label>
      {props.label}
      <input
        type="text"
        list={listId}
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
      {props.options && (
        <datalist id={listId}>
          {props.options.map((o) => (
            <option value={o} />
          ))}
        </datalist>
      )}
    </label>
  );
}

export function Traces({ projectId }: { projectId: string }) {
  useDocumentTitle('Traces');
  const { query } = useLocation();
  const range = query.get('range') ?? '24h';
  const resolved = useRange(range, query.get('from'), query.get('to'), false);
  const page = Math.max(1, Number(query.get('page')) || 1);
  const limit = Math.min(100, Math.max(1, Number(query.get('limit')) || 50));
  const orderBy = query.get('orderBy') ?? 'timestamp.desc';
  const search = query.get('q') ?? '';
  const searchContent = query.get('searchType') === 'content';
  const filter = useMemo(() => buildFilter(query), [query.toString()]);

  const [searchText, setSearchText] = useState(search);
  const searchTyped = useRef(false);  // as in FilterInput
  useEffect(() => {
    searchTyped.current = false;
    setSearchText(search);
  }, [search]);
  const debouncedSearch = useDebounced(searchText, 300);
  useEffect(() => {
    if (searchTyped.current && debouncedSearch !== search) {
      searchTyped.current = false;
      setQuery({ q: debouncedSearch, page: null });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedSearch]);

  const [columns, setColumns] = useState<string[]>(loadColumns);
  const [pickerOpen, setPickerOpen] = useState(false);
  useEffect(() => localStorage.setItem(COLUMNS_KEY, JSON.stringify(columns)), [columns]);
  const visible = COLUMNS.filter((c) => columns.includes(c.id));

  const url = withQuery(projectPath(projectId, '/traces'), {
    page,
    limit,
    orderBy,
    fromTimestamp: resolved.fromTimestamp,
    toTimestamp: resolved.toTimestamp,
    filter: filter.length > 0 ? JSON.stringify(filter) : undefined,
    search: search || undefined,
    searchType: search && searchContent ? 'content' : undefined,
  });
  const traces = useFetch<Page<TraceRow>>(url);
  // The filter fields' suggestions wait for the first page: on a large project both requests
  // compete for the same cores, and the rows matter first.
  const options = useFetch<FilterOptions>(
    traces.data || traces.error
      ? withQuery(projectPath(projectId, '/traces/filter-options'), { fromTimestamp: resolved.fromTimestamp, toTimestamp: resolved.toTimestamp })
      : null,
  );
  const open = (id: string) => navigate(`/project/${encodeURIComponent(projectId)}/traces/${encodeURIComponent(id)}`);
  const filtered = filter.length > 0 || search;

  return (
    <main class="wide">
      <h1>Traces</h1>
      <div class="toolbar">
        <label class="search">
          Search traces
          <input type="search" value={searchText} placeholder="ID or name" onInput={(e) => {
              searchTyped.current = true;
              setSearchText(e.currentTarget.value);
            }} />
        </label>
        <label class="inline checkbox">
          <input
            type="checkbox"
            checked={searchContent}
            onChange={(e) => setQuery({ searchType: e.currentTarget.checked ? 'content' : null, page: null })}
          />
          Include input and output
        </label>
        <TimeRangePicker
          range={range}
          from={query.get('from')}
          to={query.get('to')}
          allowAll
          onChange={(r, from, to) => setQuery({ range: r === '24h' ? null : r, from: r === 'custom' ? from : null, to: r === 'custom' ? to : null, page: null })}
        />
      </div>
      <fieldset class="filters">
        <legend>Filters</legend>
        <FilterInput label="Name" param="name" value={query.get('name') ?? ''} options={options.data?.names} />
        <FilterInput label="User" param="user" value={query.get('user') ?? ''} options={options.data?.users} />
        <FilterInput label="Session" param="session" value={query.get('session') ?? ''} />
        <FilterInput label="Tags" param="tags" value={query.get('tags') ?? ''} options={options.data?.tags} placeholder="comma separated" />
        <FilterInput label="Environment" param="env" value={query.get('env') ?? ''} options={options.data?.environments} />
        <label>
          Level
          <select value={query.get('level') ?? ''} onChange={(e) => setQuery({ level: e.currentTarget.value, page: null })}>
            <option value="">Any</option>
            <option value="DEBUG">DEBUG</option>
            <option value="DEFAULT">DEFAULT</option>
            <option value="WARNING">WARNING</option>
            <option value="ERROR">ERROR</option>
          </select>
        </label>
        <FilterInput label="Metadata key" param="mk" value={query.get('mk') ?? ''} />
        <FilterInput label="Metadata value" param="mv" value={query.get('mv') ?? ''} />
        {filtered && (
          <button
            type="button"
            onClick={() => setQuery({ name: null, user: null, session: null, tags: null, env: null, level: null, mk: null, mv: null, q: null, searchType: null, page: null })}
          >
            Clear filters
          </button>
        )}
        <div class="picker">
          <button type="button" aria-expanded={pickerOpen} aria-controls="column-picker" onClick={() => setPickerOpen(!pickerOpen)}>
            Columns
          </button>
          {pickerOpen && (
            <fieldset id="column-picker" class="popover">
              <legend>Visible columns</legend>
              {COLUMNS.map((c) => (
                <label class="inline checkbox">
                  <input
                    type="checkbox"
                    checked={columns.includes(c.id)}
                    onChange={(e) => {
                      const on = e.currentTarget.checked;
                      setColumns(COLUMNS.map((col) => col.id).filter((id) => (id === c.id ? on : columns.includes(id))));
                    }}
                  />
                  {c.label}
                </label>
              ))}
              <button type="button" onClick={() => setColumns(DEFAULT_COLUMNS)}>
                Reset to defaults
              </button>
            </fieldset>
          )}
        </div>
      </fieldset>
      <ErrorMessage error={traces.error} />
      <div class="tablewrap" aria-busy={traces.loading}>
        <table aria-label="Traces" class="rows">
          <thead>
            <tr>
              {visible.map((c) =>
                c.sort ? (
                  <SortHeader column={c.sort} label={c.label} orderBy={orderBy} class={c.numeric ? 'num' : undefined} onSort={(o) => setQuery({ orderBy: o === 'timestamp.desc' ? null : o, page: null })} />
                ) : (
                  <th scope="col" class={c.numeric ? 'num' : undefined}>
                    {c.label}
                  </th>
                ),
              )}
            </tr>
          </thead>
          <tbody>
            {traces.data?.data.map((row) => (
              <tr
                key={row.id}
                tabIndex={0}
                class="clickable"
                data-trace-id={row.id}
                aria-label={`Trace ${row.name ?? ''} ${row.id}`.replace(/\s+/g, ' ')}
                onClick={() => open(row.id)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') {
                    e.preventDefault();
                    open(row.id);
                  }
                }}
              >
                {visible.map((c) => (
                  <td class={c.numeric ? 'num' : undefined}>{c.render(row)}</td>
                ))}
              </tr>
            ))}
            {traces.data && traces.data.data.length === 0 && (
              <tr>
                <td colSpan={visible.length} class="muted">
                  No traces match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {traces.data && (
        <Pagination
          page={page}
          limit={limit}
          totalPages={traces.data.meta.totalPages}
          totalItems={traces.data.meta.totalItems}
          onPage={(p) => setQuery({ page: p === 1 ? null : String(p) }, { push: true })}
          onLimit={(l) => setQuery({ limit: l === 50 ? null : String(l), page: null })}
        />
      )}
    </main>
  );
}
