import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, type Session } from '../api';
import { Link, navigate, useLocation } from '../router';
import { findProject, markSignedOut } from '../session';

const sections = [
  { path: '', label: 'Dashboard' },
  { path: '/traces', label: 'Traces' },
  { path: '/sessions', label: 'Sessions' },
  { path: '/users', label: 'Users' },
  { path: '/scores', label: 'Scores' },
  { path: '/settings', label: 'Settings' },
];

/**
 * The page frame. `session` is null while it is still being fetched: the page itself is already
 * shown (it loads its own data), the switcher and the user appear when the session arrives.
 */
export function Layout(props: { session: Session | null; projectId: string | null; children: ComponentChildren }) {
  const { session, projectId } = props;
  const { path } = useLocation();
  const [error, setError] = useState<string | null>(null);
  const current = projectId && session ? findProject(session, projectId) : null;
  const showSections = session ? current !== null : projectId !== null;
  const base = projectId ? `/project/${encodeURIComponent(projectId)}` : '';

  async function signOut() {
    try {
      await api('/api/ui/auth/signout', { method: 'POST' });
    } catch (e) {
      if ((e as { status?: number }).status !== 401) {
        setError((e as Error).message);
        return;
      }
    }
    markSignedOut();
    navigate('/auth/sign-in');
  }

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/" class="brand">
          Langfuse
        </Link>
        <label class="inline switcher">
          <span class="sr-only">Project</span>
          <select
            value={session ? (projectId ?? '') : ''}
            disabled={!session}
            onChange={(e) => {
              const value = e.currentTarget.value;
              if (value === '__new') navigate('/setup');
              else if (value) navigate(`/project/${encodeURIComponent(value)}`);
            }}
          >
            {!current && <option value="">{session ? 'Select a project' : 'Loading…'}</option>}
            {session?.organizations.map((org) => (
              <optgroup label={org.name}>
                {org.projects.map((p) => (
                  <option value={p.id}>
                    {org.name} / {p.name}
                  </option>
                ))}
              </optgroup>
            ))}
            <option value="__new">New organization or project…</option>
          </select>
        </label>
        {showSections && (
          <nav aria-label="Project" class="sections">
            {sections.map((s) => {
              const href = base + s.path;
              const active = s.path === '' ? path === base : path.startsWith(href);
              return (
                <Link href={href} aria-current={active ? 'page' : undefined}>
                  {s.label}
                </Link>
              );
            })}
          </nav>
        )}
        <span class="spacer" />
        {session && (
          <>
            <span class="user" title={session.user.email}>
              {session.user.name || session.user.email}
            </span>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </>
        )}
      </header>
      <ErrorBanner error={error} />
      {session && projectId && !current ? (
        <main id="main">
          <h1>Project not found</h1>
          <p>This project does not exist or you are not a member of its organization.</p>
        </main>
      ) : (
        <div id="main">{props.children}</div>
      )}
    </div>
  );
}

function ErrorBanner({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="error banner" role="alert">
      {error}
    </p>
  );
}
