import { useState } from 'preact/hooks';
import { api, projectPath, type Role } from '../api';
import { ConfirmDialog, CopyButton, DateTime, ErrorMessage, Loading } from '../components/common';
import { useDocumentTitle, useFetch } from '../hooks';

interface ProjectInfo {
  id: string;
  name: string;
  orgId: string;
  role: Role;
}
interface ApiKey {
  id: string;
  publicKey: string;
  displaySecretKey: string;
  note: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}
interface NewApiKey extends ApiKey {
  secretKey: string;
}
interface Member {
  userId: string;
  name: string;
  email: string;
  role: Role;
}

const ROLES: Role[] = ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER'];
const rank = (role: Role) => ROLES.length - ROLES.indexOf(role);

export function Settings({ projectId }: { projectId: string }) {
  useDocumentTitle('Settings');
  const project = useFetch<ProjectInfo>(projectPath(projectId));
  if (project.error) return <main><ErrorMessage error={project.error} /></main>;
  if (!project.data) return <main><Loading /></main>;
  const isAdmin = rank(project.data.role) >= rank('ADMIN');
  return (
    <main>
      <h1>Settings · {project.data.name}</h1>
      <p class="muted">
        Project ID <code>{project.data.id}</code> · your role: {project.data.role}
      </p>
      <ApiKeys projectId={projectId} canEdit={isAdmin} />
      <Members orgId={project.data.orgId} myRole={project.data.role} />
    </main>
  );
}

function ApiKeys({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const keys = useFetch<{ data: ApiKey[] }>(projectPath(projectId, '/api-keys'));
  const [note, setNote] = useState('');
  const [created, setCreated] = useState<NewApiKey | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [revokeError, setRevokeError] = useState<string | null>(null);

  async function create(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const key = await api<NewApiKey>(projectPath(projectId, '/api-keys'), {
        method: 'POST',
        body: note.trim() ? { note: note.trim() } : {},
      });
      setCreated(key);
      setNote('');
      keys.reload();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  async function revoke() {
    if (!revoking) return;
    setBusy(true);
    setRevokeError(null);
    try {
      await api(projectPath(projectId, `/api-keys/${encodeURIComponent(revoking.id)}`), { method: 'DELETE' });
      setRevoking(null);
      if (created?.id === revoking.id) setCreated(null);
      keys.reload();
    } catch (err) {
      setRevokeError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const env = created
    ? `LANGFUSE_PUBLIC_KEY="${created.publicKey}"\nLANGFUSE_SECRET_KEY="${created.secretKey}"\nLANGFUSE_BASEURL="${location.origin}"`
    : '';

  return (
    <section aria-labelledby="keys-title" class="card">
      <h2 id="keys-title">API keys</h2>
      {canEdit ? (
        <form class="row" onSubmit={create}>
          <label class="inline">
            Note
            <input type="text" value={note} placeholder="optional" onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            Create API key
          </button>
        </form>
      ) : (
        <p class="muted">Only admins and owners can create or revoke API keys.</p>
      )}
      <ErrorMessage error={error} />
      {created && (
        <div class="newkey" role="region" aria-label="New API key">
          <p>
            <strong>Copy the secret key now.</strong> It is shown only once.
          </p>
          <dl>
            <dt>Public key</dt>
            <dd>
              <code data-testid="new-public-key">{created.publicKey}</code> <CopyButton text={created.publicKey} label="Copy public key" />
            </dd>
            <dt>Secret key</dt>
            <dd>
              <code data-testid="new-secret-key">{created.secretKey}</code> <CopyButton text={created.secretKey} label="Copy secret key" />
            </dd>
            <dt>Environment</dt>
            <dd>
              <pre data-testid="new-key-env">{env}</pre> <CopyButton text={env} label="Copy environment variables" />
            </dd>
          </dl>
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {keys.error && <ErrorMessage error={keys.error} />}
      {keys.data && (
        <table aria-label="API keys">
          <thead>
            <tr>
              <th scope="col">Public key</th>
              <th scope="col">Secret key</th>
              <th scope="col">Note</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              {canEdit && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {keys.data.data.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">
                  No API keys yet.
                </td>
              </tr>
            )}
            {keys.data.data.map((key) => (
              <tr key={key.id}>
                <td><code>{key.publicKey}</code></td>
                <td><code>{key.displaySecretKey}</code></td>
                <td>{key.note ?? ''}</td>
                <td><DateTime value={key.createdAt} /></td>
                <td>{key.lastUsedAt ? <DateTime value={key.lastUsedAt} /> : 'never'}</td>
                {canEdit && (
                  <td>
                    <button type="button" class="danger" onClick={() => { setRevokeError(null); setRevoking(key); }}>
                      Revoke
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoking && (
        <ConfirmDialog title="Revoke API key" busy={busy} error={revokeError} onConfirm={revoke} onCancel={() => setRevoking(null)}>
          <p>
            Revoke <code>{revoking.publicKey}</code>? Applications using it stop working immediately.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Members({ orgId, myRole }: { orgId: string; myRole: Role }) {
  const members = useFetch<{ data: Member[] }>(`/api/ui/organizations/${encodeURIComponent(orgId)}/members`);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('MEMBER');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [removeError, setRemoveError] = useState<string | null>(null);
  const canEdit = rank(myRole) >= rank('ADMIN');
  const assignable = ROLES.filter((r) => myRole === 'OWNER' || r !== 'OWNER');
  const base = `/api/ui/organizations/${encodeURIComponent(orgId)}/members`;

  async function add(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api(base, { method: 'POST', body: { email: email.trim(), role } });
      setEmail('');
      members.reload();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  async function changeRole(member: Member, next: Role) {
    setError(null);
    try {
      await api(`${base}/${encodeURIComponent(member.userId)}`, { method: 'PUT', body: { role: next } });
    } catch (err) {
      setError((err as Error).message);
    }
    members.reload();
  }

  async function remove() {
    if (!removing) return;
    setBusy(true);
    setRemoveError(null);
    try {
      await api(`${base}/${encodeURIComponent(removing.userId)}`, { method: 'DELETE' });
      setRemoving(null);
      members.reload();
    } catch (err) {
      setRemoveError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="members-title" class="card">
      <h2 id="members-title">Organization members</h2>
      {canEdit && (
        <form class="row" onSubmit={add}>
          <label class="inline">
            Email
            <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <label class="inline">
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {assignable.map((r) => (
                <option value={r}>{r}</option>
              ))}
            </select>
          </label>
          <button type="submit" class="primary" disabled={busy || !email.trim()}>
            Add member
          </button>
        </form>
      )}
      <ErrorMessage error={error ?? members.error} />
      {members.data && (
        <table aria-label="Members">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Access</th>
              {canEdit && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {members.data.data.map((m) => {
              const editable = canEdit && (myRole === 'OWNER' || m.role !== 'OWNER');
              return (
                <tr key={m.userId}>
                  <td>{m.name}</td>
                  <td>{m.email}</td>
                  <td>
                    {editable ? (
                      <select
                        aria-label={`Access of ${m.email}`}
                        value={m.role}
                        onChange={(e) => void changeRole(m, e.currentTarget.value as Role)}
                      >
                        {assignable.map((r) => (
                          <option value={r}>{r}</option>
                        ))}
                      </select>
                    ) : (
                      m.role
                    )}
                  </td>
                  {canEdit && (
                    <td>
                      {editable && (
                        <button type="button" class="danger" aria-label={`Remove ${m.email}`} onClick={() => { setRemoveError(null); setRemoving(m); }}>
                          Remove
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {removing && (
        <ConfirmDialog title="Remove member" busy={busy} error={removeError} onConfirm={remove} onCancel={() => setRemoving(null)}>
          <p>
            Remove {removing.email} from the organization?
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
