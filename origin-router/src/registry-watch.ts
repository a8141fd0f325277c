/**
 * Keeps the live registry fresh: reload on file change (fs.watch on the folder, so an atomic
 * rename is seen, with a debounce) and on demand (SIGHUP). A bad new registry keeps the old one
 * and reports every issue.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { formatIssue, type Registry, RegistryError } from '@wpfarm/common/registry/schema';

export interface RegistryHolder {
  /** The live registry; read it once per request, never cache it across requests. */
  current: Registry;
}

export interface ReloadReport {
  ok: boolean;
  sites: number;
  issues: string[];
}

/** Loads `file` and swaps it into `holder` when valid; the old one stays otherwise. */
export async function reloadRegistry(holder: RegistryHolder, file: string): Promise<ReloadReport> {
  try {
    const next = await loadRegistry(file);
    holder.current = next; // one reference assignment: requests see the old or the new, never a mix
    return { ok: true, sites: next.sites.length, issues: [] };
  } catch (err) {
    const issues =
      err instanceof RegistryError ? err.issues.map(formatIssue) : [`${file}: ${(err as Error).message}`];
    return { ok: false, sites: holder.current.sites.length, issues };
  }
}

/**
 * Watches the registry file's folder and calls `reload` once per burst of changes.
 * @returns a function that stops watching.
 */
export function watchRegistry(file: string, debounceMs: number, reload: () => void): () => void {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(reload, debounceMs);
      timer.unref();
    });
  } catch {
    // No watch support on this filesystem: SIGHUP still reloads.
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
