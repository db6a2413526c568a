import { useState } from 'preact/hooks';
import { api, type Org, type Session } from '../api';
import { ErrorMessage } from '../components/common';
import { useDocumentTitle } from '../hooks';
import { navigate, useLocation } from '../router';
import { reloadSession } from '../session';

/**
 * Creates an organisation and then a project in it. With an existing organisation where the user is
 * ADMIN or OWNER it starts at the project step. Only one form shows at a time, each with one `Name`.
 */
export function Setup({ session }: { session: Session }) {
  useDocumentTitle('Setup');
  const { query } = useLocation();
  const adminOrgs = session.organizations.filter((o) => o.role === 'OWNER' || o.role === 'ADMIN');
  const [orgId, setOrgId] = useState<string>(query.get('org') ?? adminOrgs[0]?.id ?? '');
  const [step, setStep] = useState<'org' | 'project'>(adminOrgs.length > 0 ? 'project' : 'org');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function createOrg(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const org = await api<Org>('/api/ui/organizations', { method: 'POST', body: { name: name.trim() } });
      await reloadSession();
      setOrgId(org.id);
      setName('');
      setStep('project');
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  async function createProject(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const project = await api<{ id: string }>(`/api/ui/organizations/${encodeURIComponent(orgId)}/projects`, {
        method: 'POST',
        body: { name: name.trim() },
      });
      await reloadSession();
      navigate(`/project/${encodeURIComponent(project.id)}/settings`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const orgs = session.organizations.filter((o) => o.role === 'OWNER' || o.role === 'ADMIN');
  return (
    <main class="narrow">
      <h1>Setup</h1>
      <ol class="steps" aria-label="Steps">
        <li aria-current={step === 'org' ? 'step' : undefined}>Organization</li>
        <li aria-current={step === 'project' ? 'step' : undefined}>Project</li>
      </ol>
      {step === 'org' ? (
        <form class="card stack" onSubmit={createOrg}>
          <h2>New organization</h2>
          <p class="muted">Organizations group projects and their members.</p>
          <label>
            Name
            <input type="text" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <ErrorMessage error={error} />
          <button type="submit" class="primary" disabled={busy || !name.trim()}>
            Create organization
          </button>
        </form>
      ) : (
        <form class="card stack" onSubmit={createProject}>
          <h2>New project</h2>
          <label>
            Organization
            <select value={orgId} onChange={(e) => setOrgId(e.currentTarget.value)}>
              {orgs.map((o) => (
                <option value={o.id}>{o.name}</option>
              ))}
            </select>
          </label>
          <label>
            Name
            <input type="text" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <ErrorMessage error={error} />
          <div class="row">
            <button type="submit" class="primary" disabled={busy || !name.trim() || !orgId}>
              Create project
            </button>
            <button
              type="button"
              onClick={() => {
                setError(null);
                setStep('org');
              }}
            >
              New organization instead
            </button>
          </div>
        </form>
      )}
    </main>
  );
}
