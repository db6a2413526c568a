// The signed-in user, their CSRF token and organisations, shared by every page.
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrfToken, type Session } from './api';

export type SessionState =
  | { status: 'loading' }
  | { status: 'signedOut' }
  | { status: 'error'; message: string }
  | { status: 'ready'; session: Session };

let state: SessionState = { status: 'loading' };
const listeners = new Set<(s: SessionState) => void>();

function set(next: SessionState) {
  state = next;
  setCsrfToken(next.status === 'ready' ? next.session.csrfToken : null);
  for (const listener of [...listeners]) listener(next);
}

export async function reloadSession(): Promise<SessionState> {
  try {
    const session = await api<Session>('/api/ui/auth/session', { allowUnauthorized: true });
    set({ status: 'ready', session });
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 401) set({ status: 'signedOut' });
    else set({ status: 'error', message: (error as Error).message });
  }
  return state;
}

export function markSignedOut() {
  set({ status: 'signedOut' });
}

export function useSession(): SessionState {
  const [value, setValue] = useState(state);
  useEffect(() => {
    listeners.add(setValue);
    setValue(state);
    return () => {
      listeners.delete(setValue);
    };
  }, []);
  return value;
}

export function findProject(session: Session, projectId: string) {
  for (const org of session.organizations) {
    const project = org.projects.find((p) => p.id === projectId);
    if (project) return { org, project };
  }
  return null;
}

export function firstProjectPath(session: Session): string | null {
  for (const org of session.organizations) {
    if (org.projects.length > 0) return `/project/${encodeURIComponent(org.projects[0].id)}`;
  }
  return null;
}
