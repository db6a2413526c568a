import { DateTime, ErrorMessage, Pagination } from '../components/common';
import { UrlSearch, UrlTimeRange, useUrlList } from '../components/listcontrols';
import { formatCost, formatNumber } from '../format';
import { useDocumentTitle } from '../hooks';
import { Link, setQuery } from '../router';

interface UserRow {
  userId: string;
  traceCount: number;
  observationCount: number;
  totalTokens: number | null;
  totalCost: number | null;
  firstTrace: string | null;
  lastTrace: string | null;
}

const USER_SORTS = ['userId', 'traceCount', 'observationCount', 'totalTokens', 'totalCost', 'firstTrace', 'lastTrace'];
const USERS_DEFAULT_ORDER = 'lastTrace.desc';

export function Users({ projectId }: { projectId: string }) {
  useDocumentTitle('Users');
  const { query, page, range, search, list: users, sort } = useUrlList<UserRow>(projectId, '/users', USER_SORTS, USERS_DEFAULT_ORDER);
  return (
    <main class="wide">
      <h1>Users</h1>
      <div class="toolbar">
        <UrlSearch label="Search users" param="q" value={search} placeholder="User ID" />
        <UrlTimeRange query={query} range={range} defaultRange="all" />
      </div>
      <ErrorMessage error={users.error} />
      <div class="tablewrap" aria-busy={users.loading}>
        <table aria-label="Users">
          <thead>
            <tr>
              {sort('userId', 'User ID')}
              {sort('traceCount', 'Traces', true)}
              {sort('observationCount', 'Observations', true)}
              {sort('totalTokens', 'Tokens', true)}
              {sort('totalCost', 'Cost', true)}
              {sort('firstTrace', 'First seen')}
              {sort('lastTrace', 'Last seen')}
            </tr>
          </thead>
          <tbody>
            {users.data?.data.map((u) => (
              <tr key={u.userId} data-user-id={u.userId}>
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
              <tr><td colSpan={7} class="muted">{search || range !== 'all' ? 'No users match.' : 'No users yet.'}</td></tr>
            )}
          </tbody>
        </table>
      </div>
      {users.data && (
        <Pagination page={page} limit={50} totalPages={users.data.meta.totalPages} totalItems={users.data.meta.totalItems} onPage={(p) => setQuery({ page: p === 1 ? null : String(p) }, { push: true })} />
      )}
    </main>
  );
}
