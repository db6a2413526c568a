import { projectPath, withQuery, type Page } from '../api';
import { DateTime, ErrorMessage, Pagination } from '../components/common';
import { formatCost, formatNumber } from '../format';
import { useDocumentTitle, useFetch } from '../hooks';
import { Link, setQuery, useLocation } from '../router';

interface UserRow {
  userId: string;
  traceCount: number;
  observationCount: number;
  totalTokens: number | null;
  totalCost: number | null;
  firstTrace: string | null;
  lastTrace: string | null;
}

export function Users({ projectId }: { projectId: string }) {
  useDocumentTitle('Users');
  const { query } = useLocation();
  const page = Math.max(1, Number(query.get('page')) || 1);
  const users = useFetch<Page<UserRow>>(withQuery(projectPath(projectId, '/users'), { page, limit: 50 }));
  return (
    <main class="wide">
      <h1>Users</h1>
      <ErrorMessage error={users.error} />
      <table aria-label="Users">
        <thead>
          <tr>
            <th scope="col">User ID</th>
            <th scope="col" class="num">Traces</th>
            <th scope="col" class="num">Observations</th>
            <th scope="col" class="num">Tokens</th>
            <th scope="col" class="num">Cost</th>
            <th scope="col">First seen</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {users.data?.data.map((u) => (
            <tr key={u.userId}>
              <td>
                <Link href={`/project/${encodeURIComponent(projectId)}/traces?user=${encodeURIComponent(u.userId)}&range=all`}>{u.userId}</Link>
              </td>
              <td class="num">{formatNumber(u.traceCount)}</td>
              <td class="num">{formatNumber(u.observationCount)}</td>
              <td class="num">{formatNumber(u.totalTokens)}</td>
              <td class="num">{formatCost(u.totalCost)}</td>
              <td><DateTime value={u.firstTrace} /></td>
              <td><DateTime value={u.lastTrace} /></td>
            </tr>
          ))}
          {users.data && users.data.data.length === 0 && (
            <tr><td colSpan={7} class="muted">No users yet.</td></tr>
          )}
        </tbody>
      </table>
      {users.data && (
        <Pagination page={page} limit={50} totalPages={users.data.meta.totalPages} totalItems={users.data.meta.totalItems} onPage={(p) => setQuery({ page: String(p) }, { push: true })} />
      )}
    </main>
  );
}
