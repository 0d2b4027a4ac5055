import { useEffect, useRef, useState } from 'preact/hooks';

export interface Route {
  /** The hash path, e.g. "/" or "/medias/…". */
  path: string;
  params: URLSearchParams;
}

const parseHash = (): Route => {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  return q < 0
    ? { path: raw, params: new URLSearchParams() }
    : { path: raw.slice(0, q), params: new URLSearchParams(raw.slice(q + 1)) };
};

/** The current hash route (/admin/#/…), updated on every hashchange. */
export function useHashRoute(): Route {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const onChange = () => setRoute(parseHash());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function navigate(path: string, params?: Record<string, string | number | undefined>, replace = false) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
  const query = qs.toString();
  const hash = `#${path}${query ? `?${query}` : ''}`;
  if (hash === location.hash) return;
  if (replace) location.replace(hash);
  else location.hash = hash;
}

/**
 * Runs `load` now and whenever `deps` change, then again every `intervalMs` while `active(result)`
 * says so. The next run is scheduled after the previous one finished, so slow answers never pile up.
 * Returns `reload` to run it at once (after an action), which also resumes polling.
 */
export function usePoll<T>(
  load: () => Promise<T>,
  intervalMs: number,
  active: (result: T) => boolean,
  deps: unknown[],
) {
  const [tick, setTick] = useState(0);
  const latest = useRef({ load, active });
  latest.current = { load, active };
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      let again = true;
      try {
        again = latest.current.active(await latest.current.load());
      } catch {
        again = true; // load reports its own errors; keep trying while the page is open
      }
      if (!stopped && again) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);
  return () => setTick((t) => t + 1);
}

export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}
