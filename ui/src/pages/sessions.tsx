import { projectPath, withQuery, type Page } from '../api';
import { DateTime, ErrorMessage, Loading, Pagination } from '../components/common';
import { IOView } from '../components/jsonview';
import { formatCost, formatLatency, formatNumber } from '../format';
import { useDocumentTitle, useFetch } from '../hooks';
import { Link, navigate, setQuery, useLocation } from '../router';

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

export function Sessions({ projectId }: { projectId: string }) {
  useDocumentTitle('Sessions');
  const { query } = useLocation();
  const page = Math.max(1, Number(query.get('page')) || 1);
  const sessions = useFetch<Page<SessionRow>>(withQuery(projectPath(projectId, '/sessions'), { page, limit: 50 }));
  const base = `/project/${encodeURIComponent(projectId)}/sessions/`;
  return (
    <main class="wide">
      <h1>Sessions</h1>
      <ErrorMessage error={sessions.error} />
      <table aria-label="Sessions" class="rows">
        <thead>
          <tr>
            <th scope="col">Session</th>
            <th scope="col">Created</th>
            <th scope="col">Last trace</th>
            <th scope="col" class="num">Traces</th>
            <th scope="col">Users</th>
            <th scope="col" class="num">Tokens</th>
            <th scope="col" class="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {sessions.data?.data.map((s) => (
            <tr key={s.id} class="clickable" onClick={(e) => { if (!(e.target as HTMLElement).closest('a')) navigate(base + encodeURIComponent(s.id)); }}>
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
            <tr><td colSpan={7} class="muted">No sessions yet.</td></tr>
          )}
        </tbody>
      </table>
      {sessions.data && (
        <Pagination page={page} limit={50} totalPages={sessions.data.meta.totalPages} totalItems={sessions.data.meta.totalItems} onPage={(p) => setQuery({ page: String(p) }, { push: true })} />
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
