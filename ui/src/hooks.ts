import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';

export interface Fetched<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** GETs `url` (null: nothing) whenever it changes; older answers are dropped. */
export function useFetch<T>(url: string | null): Fetched<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(url !== null);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    if (url === null) {
      setLoading(false);
      return;
    }
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    api<T>(url, { signal: controller.signal })
      .then((value) => {
        setData(value);
        setLoading(false);
      })
      .catch((e: Error) => {
        if (e.name === 'AbortError') return;
        setError(e.message);
        setLoading(false);
      });
    return () => controller.abort();
  }, [url, nonce]);
  return { data, error, loading, reload: () => setNonce((n) => n + 1) };
}

export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function useDocumentTitle(title: string) {
  const previous = useRef(document.title);
  useEffect(() => {
    document.title = title ? `${title} · Langfuse` : 'Langfuse';
    const before = previous.current;
    return () => {
      document.title = before;
    };
  }, [title]);
}
