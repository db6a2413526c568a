import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { projectPath } from '../api';
import { DateTime, ErrorMessage, Loading } from '../components/common';
import { IOView, JsonView } from '../components/jsonview';
import { formatCost, formatLatency, formatNumber, formatScore } from '../format';
import { useDocumentTitle, useFetch } from '../hooks';
import { Link } from '../router';

interface Score {
  id: string;
  name: string;
  value: number | null;
  stringValue: string | null;
  dataType: string;
  source?: string;
  comment?: string | null;
  observationId?: string | null;
  timestamp?: string;
}
interface Obs {
  id: string;
  traceId: string;
  parentObservationId: string | null;
  type: string;
  name: string | null;
  startTime: string;
  endTime: string | null;
  completionStartTime: string | null;
  level: string;
  statusMessage: string | null;
  model: string | null;
  usageDetails: Record<string, number> | null;
  costDetails: Record<string, number> | null;
  totalCost: number | null;
  latency: number | null;
}
interface FullObs extends Obs {
  input: unknown;
  output: unknown;
  metadata: unknown;
  modelParameters: unknown;
  promptName: string | null;
}
interface Trace {
  id: string;
  name: string | null;
  timestamp: string;
  userId: string | null;
  sessionId: string | null;
  tags: string[];
  environment: string | null;
  release: string | null;
  version: string | null;
  input: unknown;
  output: unknown;
  metadata: unknown;
  latency?: number | null;
  totalCost?: number | null;
}
interface TraceDetailAnswer {
  trace: Trace;
  observations: Obs[];
  scores: Score[];
}

/** One row of the tree: the trace itself (index 0) or an observation. */
interface Node {
  id: string;
  obs: Obs | null;
  depth: number;
  children: Node[];
  parent: Node | null;
  start: number;
  end: number;
  pos: number;
}

const ROW_HEIGHT = 28;
const OVERSCAN = 8;
const ROOT_ID = '__trace__';

function time(iso: string | null | undefined): number {
  if (!iso) return NaN;
  return Date.parse(iso);
}

/** Builds the tree in O(n) (children sorted by start time); unknown parents attach to the root. */
function buildTree(trace: Trace, observations: Obs[]): { root: Node; byId: Map<string, Node>; start: number; end: number } {
  const root: Node = { id: ROOT_ID, obs: null, depth: 0, children: [], parent: null, start: time(trace.timestamp), end: time(trace.timestamp), pos: 1 };
  const byId = new Map<string, Node>();
  byId.set(ROOT_ID, root);
  for (const obs of observations) {
    const start = time(obs.startTime);
    const end = obs.endTime ? time(obs.endTime) : start;
    byId.set(obs.id, { id: obs.id, obs, depth: 1, children: [], parent: null, start, end: Number.isNaN(end) ? start : end, pos: 1 });
  }
  let min = root.start;
  let max = root.start;
  for (const obs of observations) {
    const node = byId.get(obs.id)!;
    let parent = obs.parentObservationId ? byId.get(obs.parentObservationId) : undefined;
    if (!parent || parent === node) parent = root;
    node.parent = parent;
    parent.children.push(node);
    if (!Number.isNaN(node.start)) {
      if (Number.isNaN(min) || node.start < min) min = node.start;
      if (Number.isNaN(max) || node.end > max) max = node.end;
    }
  }
  // Depths by an explicit stack (no recursion: 10,000 nested spans must not overflow); a cycle in
  // parent ids leaves its members unreachable, so they are re-attached to the root afterwards.
  const seen = new Set<Node>([root]);
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    node.children.sort((a, b) => a.start - b.start);
    node.children.forEach((child, i) => (child.pos = i + 1));
    for (const child of node.children) {
      if (seen.has(child)) continue;
      seen.add(child);
      child.depth = node.depth + 1;
      stack.push(child);
    }
  }
  if (seen.size < byId.size) {
    for (const node of byId.values()) {
      if (seen.has(node)) continue;
      node.parent?.children.splice(node.parent.children.indexOf(node), 1);
      node.parent = root;
      node.depth = 1;
      node.children = [];
      node.pos = root.children.push(node);
    }
  }
  root.start = Number.isNaN(min) ? 0 : min;
  root.end = Number.isNaN(max) ? root.start : max;
  return { root, byId, start: root.start, end: root.end };
}

/** Pre-order list of the rows not hidden by a collapsed ancestor. */
function flatten(root: Node, collapsed: Set<string>): Node[] {
  const rows: Node[] = [];
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    rows.push(node);
    if (!collapsed.has(node.id)) {
      for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
  }
  return rows;
}

export function TraceDetail({ projectId, params }: { projectId: string; params: Record<string, string> }) {
  const traceId = params.traceId;
  useDocumentTitle(`Trace ${traceId}`);
  const detail = useFetch<TraceDetailAnswer>(projectPath(projectId, `/traces/${encodeURIComponent(traceId)}`));
  if (detail.error) {
    return (
      <main>
        <h1>Trace</h1>
        <ErrorMessage error={detail.error} />
      </main>
    );
  }
  if (!detail.data) return <main><Loading label="Loading trace…" /></main>;
  return <TraceView key={detail.data.trace.id} projectId={projectId} data={detail.data} />;
}

function TraceView({ projectId, data }: { projectId: string; data: TraceDetailAnswer }) {
  const { trace, observations, scores } = data;
  const tree = useMemo(() => buildTree(trace, observations), [trace, observations]);
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const rows = useMemo(() => flatten(tree.root, collapsed), [tree, collapsed]);
  const [activeId, setActiveId] = useState(ROOT_ID);
  const active = tree.byId.get(activeId) ?? tree.root;
  const base = `/project/${encodeURIComponent(projectId)}`;

  return (
    <main class="wide">
      <nav aria-label="Breadcrumb" class="muted">
        <Link href={`${base}/traces`}>Traces</Link> / {trace.id}
      </nav>
      <h1>{trace.name || 'Trace'}</h1>
      <dl class="facts">
        <dt>ID</dt>
        <dd><code>{trace.id}</code></dd>
        <dt>Timestamp</dt>
        <dd><DateTime value={trace.timestamp} /></dd>
        {trace.userId && (<><dt>User</dt><dd>{trace.userId}</dd></>)}
        {trace.sessionId && (
          <>
            <dt>Session</dt>
            <dd><Link href={`${base}/sessions/${encodeURIComponent(trace.sessionId)}`}>{trace.sessionId}</Link></dd>
          </>
        )}
        {trace.environment && (<><dt>Environment</dt><dd>{trace.environment}</dd></>)}
        {trace.release && (<><dt>Release</dt><dd>{trace.release}</dd></>)}
        {trace.version && (<><dt>Version</dt><dd>{trace.version}</dd></>)}
        <dt>Observations</dt>
        <dd>{formatNumber(observations.length)}</dd>
        <dt>Duration</dt>
        <dd>{formatLatency((tree.end - tree.start) / 1000)}</dd>
        {trace.tags.length > 0 && (<><dt>Tags</dt><dd>{trace.tags.map((t) => <span class="tag">{t}</span>)}</dd></>)}
      </dl>
      <div class="split">
        <ObservationTree
          traceName={trace.name || 'Trace'}
          rows={rows}
          tree={tree}
          collapsed={collapsed}
          setCollapsed={setCollapsed}
          activeId={activeId}
          setActiveId={setActiveId}
        />
        <section class="detail" aria-label="Details">
          {active.obs ? (
            <ObservationDetail projectId={projectId} obs={active.obs} scores={scores.filter((s) => s.observationId === active.id)} />
          ) : (
            <>
              <h2>{trace.name || 'Trace'}</h2>
              <IOSections input={trace.input} output={trace.output} metadata={trace.metadata} />
              <ScoresTable scores={scores.filter((s) => !s.observationId)} />
            </>
          )}
        </section>
      </div>
    </main>
  );
}

function ObservationTree(props: {
  traceName: string;
  rows: Node[];
  tree: ReturnType<typeof buildTree>;
  collapsed: Set<string>;
  setCollapsed: (s: Set<string>) => void;
  activeId: string;
  setActiveId: (id: string) => void;
}) {
  const { rows, tree, collapsed, activeId } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const span = Math.max(tree.end - tree.start, 1);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    setHeight(el.clientHeight || 600);
    const observer = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const index = Math.max(0, rows.findIndex((r) => r.id === activeId));
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);

  function toggle(node: Node) {
    const next = new Set(collapsed);
    if (next.has(node.id)) next.delete(node.id);
    else next.add(node.id);
    props.setCollapsed(next);
  }

  function focusRow(i: number) {
    const row = rows[Math.max(0, Math.min(rows.length - 1, i))];
    props.setActiveId(row.id);
    const el = scroller.current;
    if (!el) return;
    const top = rows.indexOf(row) * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
  }

  function onKeyDown(e: KeyboardEvent) {
    const node = rows[index];
    const page = Math.max(1, Math.floor(height / ROW_HEIGHT) - 1);
    switch (e.key) {
      case 'ArrowDown':
        focusRow(index + 1);
        break;
      case 'ArrowUp':
        focusRow(index - 1);
        break;
      case 'PageDown':
        focusRow(index + page);
        break;
      case 'PageUp':
        focusRow(index - page);
        break;
      case 'Home':
        focusRow(0);
        break;
      case 'End':
        focusRow(rows.length - 1);
        break;
      case 'ArrowRight':
        if (node.children.length === 0) return;
        if (collapsed.has(node.id)) toggle(node);
        else focusRow(index + 1);
        break;
      case 'ArrowLeft':
        if (node.children.length > 0 && !collapsed.has(node.id)) toggle(node);
        else if (node.parent) focusRow(rows.indexOf(node.parent));
        break;
      case 'Enter':
      case ' ':
        if (node.children.length > 0) toggle(node);
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  const visible = rows.slice(first, last);
  return (
    <div class="treepane">
      <div class="treehead" aria-hidden="true">
        <span>Name</span>
        <span>Timeline ({formatLatency(span / 1000)})</span>
      </div>
      <div
        ref={scroller}
        class="treescroll"
        role="tree"
        aria-label="Observations"
        tabIndex={0}
        aria-activedescendant={`node-${index}`}
        onKeyDown={onKeyDown}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      >
        <div style={{ height: `${rows.length * ROW_HEIGHT}px`, position: 'relative' }}>
          {visible.map((node, offset) => {
            const i = first + offset;
            const obs = node.obs;
            const left = ((node.start - tree.start) / span) * 100;
            const width = Math.max(((node.end - node.start) / span) * 100, 0.3);
            const expandable = node.children.length > 0;
            const level = obs?.level ?? 'DEFAULT';
            return (
              <div
                key={node.id}
                id={`node-${i}`}
                role="treeitem"
                aria-level={node.depth + 1}
                aria-setsize={node.parent ? node.parent.children.length : 1}
                aria-posinset={node.pos}
                aria-expanded={expandable ? !collapsed.has(node.id) : undefined}
                aria-selected={node.id === activeId}
                class={`treerow${node.id === activeId ? ' active' : ''} level-${level}`}
                style={{ top: `${i * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px` }}
                onClick={() => {
                  props.setActiveId(node.id);
                  scroller.current?.focus({ preventScroll: true });
                }}
              >
                <span class="treename" style={{ paddingLeft: `${Math.min(node.depth, 40) * 14}px` }}>
                  <span
                    class="twisty"
                    aria-hidden="true"
                    onClick={(e) => {
                      if (!expandable) return;
                      e.stopPropagation();
                      toggle(node);
                    }}
                  >
                    {expandable ? (collapsed.has(node.id) ? '▸' : '▾') : ''}
                  </span>
                  <span class={`type type-${obs?.type ?? 'TRACE'}`}>{obs?.type ?? 'TRACE'}</span> {obs ? obs.name ?? obs.id : props.traceName}
                </span>
                <span class="timeline" title={`${formatLatency((node.end - node.start) / 1000)} starting at +${formatLatency((node.start - tree.start) / 1000)}`}>
                  <span class="bar" style={{ left: `${left}%`, width: `${width}%` }} />
                  <span class="dur">{formatLatency((node.end - node.start) / 1000)}</span>
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

function IOSections({ input, output, metadata }: { input: unknown; output: unknown; metadata: unknown }) {
  return (
    <>
      <section aria-label="Input">
        <h3>Input</h3>
        <IOView value={input} />
      </section>
      <section aria-label="Output">
        <h3>Output</h3>
        <IOView value={output} />
      </section>
      {metadata !== null && metadata !== undefined && !(typeof metadata === 'object' && Object.keys(metadata as object).length === 0) && (
        <section aria-label="Metadata">
          <h3>Metadata</h3>
          <JsonView value={metadata} />
        </section>
      )}
    </>
  );
}

function ScoresTable({ scores }: { scores: Score[] }) {
  if (scores.length === 0) return null;
  return (
    <section aria-label="Scores">
      <h3>Scores</h3>
      <table aria-label="Scores">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
            <th scope="col">Source</th>
            <th scope="col">Comment</th>
          </tr>
        </thead>
        <tbody>
          {scores.map((s) => (
            <tr>
              <td>{s.name}</td>
              <td>{formatScore(s.value, s.stringValue)}</td>
              <td>{s.source ?? ''}</td>
              <td>{s.comment ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ObservationDetail({ projectId, obs, scores }: { projectId: string; obs: Obs; scores: Score[] }) {
  // Input and output are fetched only when a row is opened; a short delay skips rows passed over
  // with the arrow keys.
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    setUrl(null);
    const timer = setTimeout(() => setUrl(projectPath(projectId, `/traces/${encodeURIComponent(obs.traceId)}/observations/${encodeURIComponent(obs.id)}`)), 120);
    return () => clearTimeout(timer);
  }, [projectId, obs.id, obs.traceId]);
  const full = useFetch<FullObs>(url);
  const current = full.data && full.data.id === obs.id ? full.data : null;
  const usage = obs.usageDetails && Object.keys(obs.usageDetails).length > 0 ? obs.usageDetails : null;
  const cost = obs.costDetails && Object.keys(obs.costDetails).length > 0 ? obs.costDetails : null;
  return (
    <>
      <h2>
        <span class={`type type-${obs.type}`}>{obs.type}</span> {obs.name ?? obs.id}
      </h2>
      <dl class="facts">
        <dt>ID</dt>
        <dd><code>{obs.id}</code></dd>
        <dt>Start</dt>
        <dd><DateTime value={obs.startTime} /></dd>
        <dt>Latency</dt>
        <dd>{formatLatency(obs.latency)}</dd>
        {obs.completionStartTime && (
          <>
            <dt>Time to first token</dt>
            <dd>{formatLatency((time(obs.completionStartTime) - time(obs.startTime)) / 1000)}</dd>
          </>
        )}
        <dt>Level</dt>
        <dd><span class={`level level-${obs.level}`}>{obs.level}</span></dd>
        {obs.statusMessage && (<><dt>Status message</dt><dd>{obs.statusMessage}</dd></>)}
        {obs.model && (<><dt>Model</dt><dd>{obs.model}</dd></>)}
        {current?.promptName && (<><dt>Prompt</dt><dd>{current.promptName}</dd></>)}
        {obs.totalCost !== null && obs.totalCost !== undefined && (<><dt>Cost</dt><dd>{formatCost(obs.totalCost)}</dd></>)}
        {usage && (
          <>
            <dt>Usage</dt>
            <dd>
              {Object.entries(usage).map(([k, v]) => (
                <span class="tag">
                  {k}: {formatNumber(v)}
                </span>
              ))}
            </dd>
          </>
        )}
        {cost && (
          <>
            <dt>Cost details</dt>
            <dd>
              {Object.entries(cost).map(([k, v]) => (
                <span class="tag">
                  {k}: {formatCost(v)}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
      <ErrorMessage error={full.error} />
      {!current && !full.error && <Loading label="Loading input and output…" />}
      {current && (
        <>
          {current.modelParameters !== null && current.modelParameters !== undefined && Object.keys(current.modelParameters as object).length > 0 && (
            <section aria-label="Model parameters">
              <h3>Model parameters</h3>
              <JsonView value={current.modelParameters} />
            </section>
          )}
          <IOSections input={current.input} output={current.output} metadata={current.metadata} />
        </>
      )}
      <ScoresTable scores={scores} />
    </>
  );
}
