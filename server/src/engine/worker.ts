// Entry of an analysis worker (dist/worker.js): keeps each catalog it is sent (plain records), then
// analyses the texts it receives with the same analyzeDocument as the main thread and posts the results back.
import { parentPort } from 'node:worker_threads';
import type { CatalogData, FromWorker, ToWorker } from './pool';
import type { Catalog } from './rules/catalog';
import { analyzeDocument } from './scanner';

const catalogs = new Map<string, Catalog>();

/** A received catalog; `byId` is rebuilt in case a sender's clone ever lost the shared references. */
function rebuild(data: CatalogData): Catalog {
  return { ...data, byId: new Map(data.rules.map((r) => [r.id, r])) };
}

parentPort?.on('message', (msg: ToWorker) => {
  if (msg.type === 'catalog') {
    catalogs.set(msg.key, rebuild(msg.data));
    return;
  }
  const reply = (m: FromWorker): void => parentPort!.postMessage(m);
  const catalog = catalogs.get(msg.catalogKey);
  if (!catalog) {
    reply({ type: 'error', id: msg.id, message: 'the worker was not sent the rule catalog' });
    return;
  }
  const enabled = new Map(msg.enabled.flatMap((id) => (catalog.byId.has(id) ? [[id, catalog.byId.get(id)!] as const] : [])));
  analyzeDocument(msg.path, msg.text, msg.lang, { catalog, enabled }).then(
    (r) => reply({ type: 'result', id: msg.id, findings: r.findings, warnings: r.warnings }),
    (err: unknown) => reply({ type: 'error', id: msg.id, message: (err as Error).message ?? String(err) }),
  );
});
