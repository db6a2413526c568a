import { useEffect, useState } from 'preact/hooks';
import { projectPath, withQuery, type Page } from '../api';
import { DateTime, ErrorMessage, Pagination } from '../components/common';
import { formatScore } from '../format';
import { useDebounced, useDocumentTitle, useFetch } from '../hooks';
import { Link, setQuery, useLocation } from '../router';

interface ScoreRow {
  id: string;
  timestamp: string;
  name: string;
  value: number | null;
  stringValue: string | null;
  dataType: string;
  source: string;
  comment: string | null;
  traceId: string | null;
  traceName: string | null;
  observationId: string | null;
  sessionId?: string | null;
}

function TextFilter({ label, param, value }: { label: string; param: string; value: string }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const debounced = useDebounced(text, 400);
  useEffect(() => {
    if (debounced !== value) setQuery({ [param]: debounced.trim(), page: null });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);
  return (
    <label>
      {label}
      <input type="text" value={text} onInput={(e) => setText(e.currentTarget.value)} />
    </label>
  );
}

export function Scores({ projectId }: { projectId: string }) {
  useDocumentTitle('Scores');
  const { query } = useLocation();
  const page = Math.max(1, Number(query.get('page')) || 1);
  const scores = useFetch<Page<ScoreRow>>(
    withQuery(projectPath(projectId, '/scores'), {
      page,
      limit: 50,
      name: query.get('name'),
      source: query.get('source'),
      dataType: query.get('dataType'),
      traceId: query.get('traceId'),
      userId: query.get('userId'),
    }),
  );
  const base = `/project/${encodeURIComponent(projectId)}`;
  return (
    <main class="wide">
      <h1>Scores</h1>
      <fieldset class="filters">
        <legend>Filters</legend>
        <TextFilter label="Name" param="name" value={query.get('name') ?? ''} />
        <label>
          Source
          <select value={query.get('source') ?? ''} onChange={(e) => setQuery({ source: e.currentTarget.value, page: null })}>
            <option value="">Any</option>
            <option value="API">API</option>
            <option value="ANNOTATION">ANNOTATION</option>
            <option value="EVAL">EVAL</option>
          </select>
        </label>
        <label>
          Data type
          <select value={query.get('dataType') ?? ''} onChange={(e) => setQuery({ dataType: e.currentTarget.value, page: null })}>
            <option value="">Any</option>
            <option value="NUMERIC">NUMERIC</option>
            <option value="CATEGORICAL">CATEGORICAL</option>
            <option value="BOOLEAN">BOOLEAN</option>
          </select>
        </label>
        <TextFilter label="Trace ID" param="traceId" value={query.get('traceId') ?? ''} />
        <TextFilter label="User ID" param="userId" value={query.get('userId') ?? ''} />
      </fieldset>
      <ErrorMessage error={scores.error} />
      <table aria-label="Scores">
        <thead>
          <tr>
            <th scope="col">Timestamp</th>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
            <th scope="col">Data type</th>
            <th scope="col">Source</th>
            <th scope="col">Trace</th>
            <th scope="col">Comment</th>
          </tr>
        </thead>
        <tbody>
          {scores.data?.data.map((s) => (
            <tr key={s.id}>
              <td><DateTime value={s.timestamp} /></td>
              <td>{s.name}</td>
              <td>{formatScore(s.value, s.stringValue)}</td>
              <td>{s.dataType}</td>
              <td>{s.source}</td>
              <td>{s.traceId ? <Link href={`${base}/traces/${encodeURIComponent(s.traceId)}`}>{s.traceName || s.traceId}</Link> : ''}</td>
              <td>{s.comment ?? ''}</td>
            </tr>
          ))}
          {scores.data && scores.data.data.length === 0 && (
            <tr><td colSpan={7} class="muted">No scores match.</td></tr>
          )}
        </tbody>
      </table>
      {scores.data && (
        <Pagination page={page} limit={50} totalPages={scores.data.meta.totalPages} totalItems={scores.data.meta.totalItems} onPage={(p) => setQuery({ page: String(p) }, { push: true })} />
      )}
    </main>
  );
}
