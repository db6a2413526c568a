import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { formatDate } from '../format';

export function DateTime({ value }: { value: string | null | undefined }) {
  if (!value) return <span>–</span>;
  return (
    <time dateTime={value} title={value}>
      {formatDate(value)}
    </time>
  );
}

export function ErrorMessage({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="muted" role="status">
      {label}
    </p>
  );
}

export function Pagination(props: {
  page: number;
  totalPages: number;
  totalItems: number;
  limit: number;
  onPage: (page: number) => void;
  onLimit?: (limit: number) => void;
}) {
  const { page, totalPages, totalItems, limit } = props;
  return (
    <nav class="pagination" aria-label="Pagination">
      <span>
        {totalItems.toLocaleString()} {totalItems === 1 ? 'row' : 'rows'} · Page {page} of {Math.max(totalPages, 1)}
      </span>
      {props.onLimit && (
        <label class="inline">
          Rows per page{' '}
          <select value={String(limit)} onChange={(e) => props.onLimit!(Number(e.currentTarget.value))}>
            {[10, 20, 50, 100].map((n) => (
              <option value={String(n)}>{n}</option>
            ))}
          </select>
        </label>
      )}
      <button type="button" disabled={page <= 1} onClick={() => props.onPage(page - 1)}>
        Previous page
      </button>
      <button type="button" disabled={page >= totalPages} onClick={() => props.onPage(page + 1)}>
        Next page
      </button>
    </nav>
  );
}

/** A table header cell that sorts by `column` when clicked; aria-sort tells the current direction. */
export function SortHeader(props: {
  column: string;
  label: string;
  orderBy: string;
  onSort: (orderBy: string) => void;
  class?: string;
}) {
  const [current, direction] = props.orderBy.split('.');
  const active = current === props.column;
  const sort = active ? (direction === 'asc' ? 'ascending' : 'descending') : 'none';
  const next = active && direction === 'desc' ? 'asc' : 'desc';
  return (
    <th scope="col" aria-sort={sort} class={props.class}>
      <button type="button" class="sort" onClick={() => props.onSort(`${props.column}.${next}`)}>
        {props.label}
        <span aria-hidden="true">{active ? (direction === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}

/** A modal confirmation (role alertdialog) with buttons Confirm and Cancel. */
export function ConfirmDialog(props: {
  title: string;
  children?: ComponentChildren;
  busy?: boolean;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLButtonElement>('button.cancel')?.focus();
    return () => previous?.focus?.();
  }, []);
  return (
    <div class="backdrop">
      <div
        ref={ref}
        class="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="confirm-title"
        onKeyDown={(e) => {
          if (e.key === 'Escape') props.onCancel();
        }}
      >
        <h2 id="confirm-title">{props.title}</h2>
        {props.children}
        <ErrorMessage error={props.error} />
        <div class="row">
          <button type="button" class="danger" disabled={props.busy} onClick={props.onConfirm}>
            Confirm
          </button>
          <button type="button" class="cancel" onClick={props.onCancel}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const ref = useRef<HTMLButtonElement>(null);
  return (
    <button
      type="button"
      ref={ref}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          if (ref.current) ref.current.dataset.copied = 'true';
        } catch {
          // Clipboard access denied (insecure context): select the text for manual copying instead.
          const range = document.createRange();
          const target = ref.current?.previousElementSibling;
          if (target) {
            range.selectNodeContents(target);
            getSelection()?.removeAllRanges();
            getSelection()?.addRange(range);
          }
        }
      }}
    >
      {label}
    </button>
  );
}
