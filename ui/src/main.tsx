import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { isAuthPage } from './api';
import { Layout } from './components/layout';
import { ErrorMessage, Loading } from './components/common';
import { match, navigate, useLocation } from './router';
import { firstProjectPath, reloadSession, useSession } from './session';
import { SignIn, SignUp } from './pages/auth';
import { Setup } from './pages/setup';
import { Dashboard } from './pages/dashboard';
import { Traces } from './pages/traces';
import { TraceDetail } from './pages/trace';
import { SessionDetail, Sessions } from './pages/sessions';
import { Users } from './pages/users';
import { Scores } from './pages/scores';
import { Settings } from './pages/settings';
import './styles.css';

type Page = (props: { projectId: string; params: Record<string, string> }) => preact.JSX.Element;

const projectRoutes: [string, Page][] = [
  ['/project/:projectId', Dashboard],
  ['/project/:projectId/traces', Traces],
  ['/project/:projectId/traces/:traceId', TraceDetail],
  ['/project/:projectId/sessions', Sessions],
  ['/project/:projectId/sessions/:sessionId', SessionDetail],
  ['/project/:projectId/users', Users],
  ['/project/:projectId/scores', Scores],
  ['/project/:projectId/settings', Settings],
];

function projectPage(path: string): { Component: Page; params: Record<string, string> } | null {
  for (const [pattern, Component] of projectRoutes) {
    const params = match(pattern, path);
    if (params) return { Component, params };
  }
  return null;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return <Loading label="Redirecting…" />;
}

function App() {
  const { path } = useLocation();
  const session = useSession();

  useEffect(() => {
    void reloadSession();
  }, []);

  if (path === '/auth/sign-in') return <SignIn />;
  if (path === '/auth/sign-up') return <SignUp />;

  // A project page does not wait for the session: it renders (and starts its own requests) at
  // once, beside the session request; the layout fills in the user and the project switcher when
  // the session arrives. A 401 on either request still leads to the sign-in page (api.ts and the
  // signedOut branch below).
  if (session.status === 'loading') {
    const page = projectPage(path);
    if (!page) return <Loading />;
    return (
      <Layout session={null} projectId={page.params.projectId}>
        <page.Component key={page.params.projectId} projectId={page.params.projectId} params={page.params} />
      </Layout>
    );
  }
  if (session.status === 'error') {
    return (
      <main class="center">
        <ErrorMessage error={session.message} />
        <button type="button" onClick={() => void reloadSession()}>
          Retry
        </button>
      </main>
    );
  }
  if (session.status === 'signedOut') {
    if (isAuthPage(path)) return <Redirect to="/auth/sign-in" />;
    const next = path === '/' ? '' : `?next=${encodeURIComponent(path + location.search)}`;
    return <Redirect to={`/auth/sign-in${next}`} />;
  }

  if (path === '/' || path === '/project' || path === '/project/') {
    return <Redirect to={firstProjectPath(session.session) ?? '/setup'} />;
  }
  if (path === '/setup') {
    return (
      <Layout session={session.session} projectId={null}>
        <Setup session={session.session} />
      </Layout>
    );
  }
  const page = projectPage(path);
  if (page) {
    // The same element tree as while loading, so the page is not mounted (and fetched) twice.
    return (
      <Layout session={session.session} projectId={page.params.projectId}>
        <page.Component key={page.params.projectId} projectId={page.params.projectId} params={page.params} />
      </Layout>
    );
  }
  return (
    <Layout session={session.session} projectId={null}>
      <main>
        <h1>Page not found</h1>
        <p>
          <a href="/">Go to the start page</a>
        </p>
      </main>
    </Layout>
  );
}

render(<App />, document.getElementById('app')!);
