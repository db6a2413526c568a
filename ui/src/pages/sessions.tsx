import { projectPath } from '../api';
import { DateTime, ErrorMessage, Loading, Pagination } from '../components/common';
import { UrlSearch, UrlTimeRange, useUrlList } from '../components/listcontrols';
import { IOView } from '../components/jsonview';
import { formatCost, formatLatency, formatNumber } from '../format';
import { useDocumentTitle, useFetch } from '../hooks';
import { Link, navigate, setQuery } from '../router';

interface SessionRow {
  id: string;
  createdAt: string;
  lastTraceAt: string;
  traceCount: number;
  userIds: string[];
  totalCost: number | null;
  totalTokens: number | null;
}
interface SessionDetailAnswer {
  id: string;
  traces: { id: string; timestamp: string; name: string | null; userId: string | null; input: unknown; output: unknown; latency: number | null; totalCost: number | null }[];
}

const SESSION_SORTS = ['createdAt', 'lastTraceAt', 'traceCount', 'totalTokens', 'totalCost', 'id'];
const SESSIONS_DEFAULT_ORDER = 'createdAt.desc';

export function Sessions({ projectId }: { projectId: string }) {
  useDocumentTitle('Sessions');
  const { query, page, range, search, list: sessions, sort } = useUrlList<SessionRow>(projectId, '/sessions', SESSION_SORTS, SESSIONS_DEFAULT_ORDER);
  const base = `/project/${encodeURIComponent(projectId)}/sessions/`;
  return (
    <main class="wide">
      <h1>Sessions</h1>
      <div class="toolbar">
        <UrlSearch label="Search sessions" param="q" value={search} placeholder="Session ID" />
        <UrlTimeRange query={query} range={range} defaultRange="all" />
      </div>
      <ErrorMessage error={sessions.error} />
      <div class="tablewrap" aria-busy={sessions.loading}>
        <table aria-label="Sessions" class="rows">
          <thead>
            <tr>
              {sort('id', 'Session')}
              {sort('createdAt', 'Created')}
              {sort('lastTraceAt', 'Last trace')}
              {sort('traceCount', 'Traces', true)}
              <th scope="col">Users</th>
              {sort('totalTokens', 'Tokens', true)}
              {sort('totalCost', 'Cost', true)}
            </tr>
          </thead>
          <tbody>
            {sessions.data?.data.map((s) => (
              <tr key={s.id} class="clickable" data-session-id={s.id} onClick={(e) => { if (!(e.target as HTMLElement).closest('a')) navigate(base + encodeURIComponent(s.id)); }}>
                <td><Link href={base + encodeURIComponent(s.id)}>{s.id}</Link></td>
                <td><DateTime value={s.createdAt} /></td>
                <td><DateTime value={s.lastTraceAt} /></td>
                <td class="num">{formatNumber(s.traceCount)}</td>
                <td>{s.userIds.join(', ')}</td>
                <td class="num">{formatNumber(s.totalTokens)}</td>
                <td class="num">{formatCost(s.totalCost)}</td>
              </tr>
            ))}
            {sessions.data && sessions.data.data.length === 0 && (
              <tr><td colSpan={7} class="muted">{search || range !== 'all' ? 'No sessions match.' : 'No sessions yet.'}</td></tr>
            )}
          </tbody>
        </table>
      </div>
      {sessions.data && (
        <Pagination page={page} limit={50} totalPages={sessions.data.meta.totalPages} totalItems={sessions.data.meta.totalItems} onPage={(p) => setQuery({ page: p === 1 ? null : String(p) }, { push: true })} />
      )}
    </main>
  );
}

export function SessionDetail({ projectId, params }: { projectId: string; params: Record<string, string> }) {
  const sessionId = params.sessionId;
  useDocumentTitle(`Session ${sessionId}`);
  const detail = useFetch<SessionDetailAnswer>(projectPath(projectId, `/sessions/${encodeURIComponent(sessionId)}`));
  const base = `/project/${encodeURIComponent(projectId)}`;
  return (
    <main>
      <nav aria-label="Breadcrumb" class="muted">
        <Link href={`${base}/sessions`}>Sessions</Link> / {sessionId}
      </nav>
      <h1>Session {sessionId}</h1>
      <ErrorMessage error={detail.error} />
      {!detail.data && !detail.error && <Loading />}
      {detail.data && (
        <ol class="conversation" aria-label="Conversation">
          {detail.data.traces.map((t) => (
            <li>
              <article class="turn" aria-label={`Trace ${t.name ?? t.id}`}>
                <header>
                  <Link href={`${base}/traces/${encodeURIComponent(t.id)}`}>{t.name || t.id}</Link> · <DateTime value={t.timestamp} />
                  {t.userId && <> · {t.userId}</>} · {formatLatency(t.latency)} · {formatCost(t.totalCost)}
                </header>
                <section aria-label="Input" class="turn-input">
                  <h3 class="sr-only">Input</h3>
                  <IOView value={t.input} />
                </section>
                <section aria-label="Output" class="turn-output">
                  <h3 class="sr-only">Output</h3>
                  <IOView value={t.output} />
                </section>
              </article>
            </li>
          ))}
        </ol>
      )}
    </main>
  );
}
