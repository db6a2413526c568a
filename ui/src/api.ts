// Calls to the server's /api/ui routes: same-origin cookies, the CSRF header on every state-changing
// request, JSON errors as ApiError, and a redirect to sign-in when the session is gone.
import { navigate } from './router';

export interface User {
  id: string;
  name: string;
  email: string;
}
export type Role = 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER';
export interface Org {
  id: string;
  name: string;
  role: Role;
  projects: { id: string; name: string }[];
}
export interface Session {
  user: User;
  csrfToken: string;
  organizations: Org[];
}
export interface Page<T> {
  data: T[];
  meta: { page: number; limit: number; totalItems: number; totalPages: number };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null) {
  csrfToken = token;
}

export function isAuthPage(path = location.pathname) {
  return path.startsWith('/auth/');
}

function redirectToSignIn() {
  if (isAuthPage()) return;
  const back = location.pathname + location.search;
  navigate(`/auth/sign-in${back && back !== '/' ? `?next=${encodeURIComponent(back)}` : ''}`, { replace: true });
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    if (typeof body.message === 'string' && body.message) return body.message;
    if (typeof body.error === 'string' && body.error) return body.error;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 300) || `${response.status} ${response.statusText}`;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  signal?: AbortSignal;
  /** Do not redirect to sign-in on 401 (the session probe and the auth forms). */
  allowUnauthorized?: boolean;
}

export function withQuery(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const needsCsrf = method !== 'GET' && path !== '/api/ui/auth/signin' && path !== '/api/ui/auth/signup';
  if (needsCsrf) {
    if (!csrfToken) await loadCsrfToken();
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, `Network error: ${(error as Error).message}`);
  }
  if (response.status === 401 && !options.allowUnauthorized) {
    csrfToken = null;
    redirectToSignIn();
    throw new ApiError(401, await errorMessage(response));
  }
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  if (response.status === 204) return {} as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

async function loadCsrfToken() {
  const session = await api<Session>('/api/ui/auth/session');
  csrfToken = session.csrfToken;
}

export function projectPath(projectId: string, rest = '') {
  return `/api/ui/projects/${encodeURIComponent(projectId)}${rest}`;
}
