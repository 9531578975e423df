// Entry of an analysis worker (dist/worker.js): keeps each catalog it is sent (plain records), then
// analyses the texts it receives with the same analyzeDocument as the main thread and posts the results back.
import { parentPort } from 'node:worker_threads';
import { loadCacheKinds, primeCacheKinds } from './cacheTrees';
import type { LanguageId } from './finding';
import { crashFrom, hasGrammar, parserCrash, parserFor } from './parser';
import type { CatalogData, FromWorker, ToWorker } from './pool';
import type { Catalog } from './rules/catalog';
import { analyzeDocument } from './scanner';

const catalogs = new Map<string, Catalog>();

/** A received catalog; `byId` is rebuilt in case a sender's clone ever lost the shared references. */
function rebuild(data: CatalogData): Catalog {
  return { ...data, byId: new Map(data.rules.map((r) => [r.id, r])) };
}

/**
 * Work a first analysis would do anyway, done while the worker waits: the grammars of the languages the scan
 * found, and the cache kinds of a catalog's folder (sent only once the main thread has validated them). A
 * failure here is left for the analysis to meet and report.
 */
function preloadGrammars(languages: LanguageId[]): void {
  for (const lang of languages) if (hasGrammar(lang)) parserFor(lang).catch(() => undefined);
}

function preloadCacheKinds(catalog: Catalog): void {
  try {
    loadCacheKinds(catalog.dir);
  } catch {
    // reported by the analysis that needs them
  }
}

parentPort?.on('message', (msg: ToWorker) => {
  if (msg.type === 'preload') {
    preloadGrammars(msg.languages);
    return;
  }
  if (msg.type === 'catalog') {
    const catalog = rebuild(msg.data);
    catalogs.set(msg.key, catalog);
    // The main thread's copy of cache-kinds.yml spares this worker reading and parsing the YAML again.
    if (msg.cacheKinds !== undefined) primeCacheKinds(catalog.dir, msg.cacheKinds);
    else preloadCacheKinds(catalog);
    return;
  }
  const reply = (m: FromWorker): void => parentPort!.postMessage(m);
  const catalog = catalogs.get(msg.catalogKey);
  if (!catalog) {
    reply({ type: 'error', id: msg.id, message: 'the worker was not sent the rule catalog' });
    return;
  }
  const enabled = new Map(msg.enabled.flatMap((id) => (catalog.byId.has(id) ? [[id, catalog.byId.get(id)!] as const] : [])));
  analyzeDocument(msg.path, msg.text, msg.lang, { catalog, enabled })
    .then(
      (r) => reply({ type: 'result', id: msg.id, findings: r.findings, warnings: r.warnings }),
      (err: unknown) => {
        const message = (crashFrom(err) ?? (err as Error)).message ?? String(err);
        reply({ type: 'error', id: msg.id, message, ...(parserCrash() ? { crashed: true } : {}) });
      },
    )
    .finally(() => {
      // The parser's WebAssembly instance aborted on this file and cannot parse again: this worker ends, and the
      // pool starts a fresh one for the files still queued.
      if (parserCrash()) process.exit(70);
    });
});
