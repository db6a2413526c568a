import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorMessage } from '../components/common';
import { useDocumentTitle, useFetch } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import { firstProjectPath, reloadSession } from '../session';

interface AuthConfig {
  signUpDisabled: boolean;
}

function safeNext(next: string | null): string | null {
  // Only same-origin paths, never `//host` or a scheme.
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/auth/')) return null;
  return next;
}

async function afterAuth(next: string | null) {
  const state = await reloadSession();
  if (state.status !== 'ready') return;
  navigate(safeNext(next) ?? firstProjectPath(state.session) ?? '/setup', { replace: true });
}

export function SignIn() {
  useDocumentTitle('Sign in');
  const { query } = useLocation();
  const config = useFetch<AuthConfig>('/api/ui/auth/config');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/api/ui/auth/signin', { method: 'POST', body: { email, password }, allowUnauthorized: true });
      await afterAuth(query.get('next'));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="auth" id="main">
      <h1>Sign in to Langfuse</h1>
      <form onSubmit={submit} class="card stack">
        <label>
          Email
          <input type="email" name="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      {config.data && !config.data.signUpDisabled && (
        <p>
          No account yet? <Link href={`/auth/sign-up${location.search}`}>Sign up</Link>
        </p>
      )}
    </main>
  );
}

export function SignUp() {
  useDocumentTitle('Sign up');
  const { query } = useLocation();
  const config = useFetch<AuthConfig>('/api/ui/auth/config');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    if (password.length < 8) {
      setError('The password must be at least 8 characters long.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api('/api/ui/auth/signup', { method: 'POST', body: { name, email, password }, allowUnauthorized: true });
      await afterAuth(query.get('next'));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  if (config.data?.signUpDisabled) {
    return (
      <main class="auth" id="main">
        <h1>Sign up</h1>
        <p>Sign-up is disabled on this server. Ask an administrator for an account.</p>
        <p>
          <Link href="/auth/sign-in">Sign in</Link>
        </p>
      </main>
    );
  }

  return (
    <main class="auth" id="main">
      <h1>Create your Langfuse account</h1>
      <form onSubmit={submit} class="card stack">
        <label>
          Name
          <input type="text" name="name" autoComplete="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Email
          <input type="email" name="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autoComplete="new-password"
            required
            aria-describedby="password-hint"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <small id="password-hint" class="muted">
          At least 8 characters.
        </small>
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign up
        </button>
      </form>
      <p>
        Already have an account? <Link href={`/auth/sign-in${location.search}`}>Sign in</Link>
      </p>
    </main>
  );
}
