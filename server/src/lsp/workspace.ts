// The language server's state and logic: open documents analysed on every change (never publishing
// results for an older version), findings of closed files from workspace scans and file watching, the
// policy per workspace folder, and the policy status sent to the client when the decision changes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore from 'ignore';
import { type Connection, type Diagnostic, MessageType, ShowMessageNotification } from 'vscode-languageserver/node';
import {
  type GatingFinding,
  POLICY_STATUS_NOTIFICATION,
  type PolicyStatus,
  type RetestResult,
} from '../../../shared/src/protocol';
import { DEFAULT_SETTINGS, meetsMinimum, type SentinelSettings } from '../../../shared/src/settings';
import { loadCacheKinds } from '../engine/cacheTrees';
import type { Finding, ScanReport } from '../engine/finding';
import { applyPolicy, catalogForPolicy, defaultPolicy, findPolicy, loadPolicy, type Policy, summarize } from '../engine/policy';
import { type Catalog, type CatalogExtension, extendCatalog, loadCatalog } from '../engine/rules/catalog';
import { analyzeDocument, enabledRules, scanPaths } from '../engine/scanner';
import { type StepLocator, toDiagnostic } from './diagnostics';
import { findingsByCell, NotebookState } from './notebooks';
import { OpenDocument, outOfScope, pathToUri, uriToPath } from './documents';
import { PositionConverter, type PositionEncoding } from './positions';

interface KnownFile {
  uri: string;
  findings: Finding[];
  /** Text the findings' offsets refer to (for closed files, the text read at scan time). */
  text: string;
  /** Notebook cells: where trace steps in other cells are. */
  locateStep?: StepLocator;
  /** Place findings by their 1-based line/column (a scanned .ipynb file), not by offsets into `text`. */
  byLineColumn?: boolean;
  /** Positions in `text`, built once per analysis and shared by the diagnostics and the policy status. */
  converter?: PositionConverter;
}

/** The longest an analysis waits for a stream of changes to stop, so that a flood of edits cannot starve it. */
const MAX_DEFER_MS = 100;

export interface ProgressReporter {
  report(percentage: number, message: string): void;
  isCancelled(): boolean;
  done(): void;
}

export class Workspace {
  private readonly baseCatalog: Catalog = loadCatalog();
  /** The shipped catalog plus the in-house sinks and sources from the settings. */
  catalog: Catalog = this.baseCatalog;
  readonly documents = new Map<string, OpenDocument>();
  readonly notebooks = new Map<string, NotebookState>();
  private readonly known = new Map<string, KnownFile>();
  /** Analyses waiting to start: whether a change arrived in the last turn of the event loop, and since when they wait. */
  private readonly scheduled = new Map<string, { changed: boolean; since: number }>();
  /** Documents being analysed now, and whether a change arrived meanwhile (then the latest text is analysed next). */
  private readonly analysing = new Map<string, { rerun: boolean }>();
  private policies = new Map<string, { policy: Policy; error?: string }>();
  private lastStatus = '';
  settings: SentinelSettings = DEFAULT_SETTINGS;
  roots: string[] = [];
  encoding: PositionEncoding = 'utf-16';

  constructor(private readonly connection: Connection) {
    // The rule data is read and validated at start, not by the first analysis: cache-kinds.yml (schema
    // compiled with Ajv) as well as the rule cards. A broken file is reported by the analyses that need it.
    try {
      loadCacheKinds(this.baseCatalog.dir, this.baseCatalog);
    } catch {
      // the checks throw the same CatalogError, which the analysis logs
    }
  }

  // ---- roots and policy ----------------------------------------------------------------------------

  /** The workspace folder holding `fsPath` (the deepest one), else the file's own folder. */
  rootFor(fsPath: string): string {
    const holders = this.roots.filter((r) => fsPath === r || fsPath.startsWith(r + path.sep));
    return holders.sort((a, b) => b.length - a.length)[0] ?? path.dirname(fsPath);
  }

  policyFor(root: string): { policy: Policy; error?: string } {
    const cached = this.policies.get(root);
    if (cached) return cached;
    let entry: { policy: Policy; error?: string };
    try {
      const configured = this.settings.policyPath ? path.resolve(root, this.settings.policyPath) : undefined;
      const file = configured ?? findPolicy(root);
      entry = { policy: file ? loadPolicy(file, this.catalog) : defaultPolicy(root) };
    } catch (err) {
      // A broken policy must not silence the editor: use the default and say why in the status.
      entry = { policy: defaultPolicy(root), error: (err as Error).message };
      this.connection.console.error(`sentinel: ${(err as Error).message}`);
    }
    this.policies.set(root, entry);
    return entry;
  }

  /** Forget loaded policies (a policy file or the settings changed) and re-apply them to every known file. */
  /** Applies `extraSinks`/`extraSources` from the settings; bad entries are reported, not fatal. */
  applyCatalogSettings(): void {
    const { catalog, errors } = extendCatalog(this.baseCatalog, {
      sinks: this.settings.extraSinks as CatalogExtension['sinks'],
      sources: this.settings.extraSources as CatalogExtension['sources'],
    });
    this.catalog = catalog;
    // A plain notification: showWarningMessage would be a request that some clients do not answer.
    for (const e of errors) void this.connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message: `Sentinel settings: ${e}` });
  }

  reloadPolicies(): void {
    this.policies.clear();
    // Notebook cells are not files: re-analyse open notebooks, which applies the new policy to their cells.
    for (const uri of this.notebooks.keys()) void this.analyzeNotebook(uri);
    for (const file of this.known.values()) {
      const fsPath = uriToPath(file.uri);
      if (!fsPath) continue;
      const root = this.rootFor(fsPath);
      applyPolicy(file.findings, this.policyFor(root).policy, { baseDir: root });
      this.publish(file);
    }
    // The policy's `models:` may add sources, sinks or sanitizers: open documents are analysed again.
    for (const uri of this.documents.keys()) this.schedule(uri);
    this.sendPolicyStatus();
  }

  // ---- open documents --------------------------------------------------------------------------------

  /**
   * Analyse `uri` once the changes already received are applied. The connection hands over one message per
   * turn of the event loop, so edits that piled up during an analysis arrive one turn apart: the analysis
   * starts after a turn without a change to this document (or after MAX_DEFER_MS of changes), and reads the
   * latest text. A change during an analysis (one that awaits) costs one more analysis, of the latest text.
   * Edits faster than the analysis therefore never queue up analyses; each one sent alone is analysed.
   */
  schedule(uri: string): void {
    const running = this.analysing.get(uri);
    if (running) {
      running.rerun = true;
      return;
    }
    const pending = this.scheduled.get(uri);
    if (pending) {
      pending.changed = true;
      return;
    }
    const entry = { changed: true, since: performance.now() };
    this.scheduled.set(uri, entry);
    const turn = (): void => {
      if (entry.changed && performance.now() - entry.since < MAX_DEFER_MS) {
        entry.changed = false;
        setImmediate(turn);
        return;
      }
      this.scheduled.delete(uri);
      void this.analyzeLatest(uri);
    };
    setImmediate(turn);
  }

  private async analyzeLatest(uri: string): Promise<void> {
    const state = { rerun: false };
    this.analysing.set(uri, state);
    try {
      if (this.notebooks.has(uri)) await this.analyzeNotebookNow(uri);
      else await this.analyzeOpen(uri);
    } catch (err) {
      this.connection.console.error(`sentinel: analysing ${uri} failed: ${(err as Error).stack ?? String(err)}`);
    } finally {
      this.analysing.delete(uri);
    }
    if (state.rerun) this.schedule(uri);
  }

  async analyzeOpen(uri: string): Promise<void> {
    const doc = this.documents.get(uri);
    if (!doc) return;
    const version = doc.version;
    const text = doc.text;
    const fsPath = uriToPath(uri);
    const root = fsPath ? this.rootFor(fsPath) : undefined;
    const displayPath = fsPath && root ? path.relative(root, fsPath).split(path.sep).join('/') : uri;
    if ((fsPath && root && this.isExcluded(fsPath, root)) || outOfScope(doc.languageId, text) || text.length > this.settings.maxFileSize) {
      this.forget(uri);
      return;
    }
    // The policy's `models:` (in-house sources, sinks, sanitizers) extend the catalog this file is analysed with.
    const { policy } = this.policyFor(root ?? (fsPath ? path.dirname(fsPath) : process.cwd()));
    const catalog = catalogForPolicy(this.catalog, policy);
    const { findings } = await doc.live.analyze(displayPath, doc.syntax, catalog, enabledRules(catalog, this.settings.rules));
    // A newer version arrived meanwhile: its own analysis is scheduled; do not publish stale results.
    if (this.documents.get(uri) !== doc || doc.version !== version) return;
    applyPolicy(findings, policy, { baseDir: root ?? process.cwd() });
    const file: KnownFile = { uri, findings, text, converter: doc.converter(this.encoding) };
    this.known.set(uri, file);
    this.publish(file, version);
    this.sendPolicyStatus();
  }

  /** A closed document goes back to what is on disk: rescan it if it is a file, else clear it. */
  async closed(uri: string): Promise<void> {
    const doc = this.documents.get(uri);
    doc?.dispose();
    this.documents.delete(uri);
    const fsPath = uriToPath(uri);
    if (fsPath && fs.existsSync(fsPath)) await this.rescanFiles([fsPath]);
    else this.forget(uri);
  }

  // ---- notebooks ------------------------------------------------------------------------------------

  notebookOfCell(cellUri: string): NotebookState | undefined {
    for (const nb of this.notebooks.values()) if (nb.hasCell(cellUri)) return nb;
    return undefined;
  }

  /** Analyse notebook `uri` soon: bursts of cell edits are folded as for text documents (`schedule`). */
  analyzeNotebook(uri: string): Promise<void> {
    this.schedule(uri);
    return Promise.resolve();
  }

  private async analyzeNotebookNow(uri: string): Promise<void> {
    const nb = this.notebooks.get(uri);
    if (!nb) return;
    const version = nb.version;
    const { program, cells } = nb.program();
    const fsPath = uriToPath(uri);
    const root = fsPath ? this.rootFor(fsPath) : (this.roots[0] ?? process.cwd());
    const displayPath = fsPath ? path.relative(root, fsPath).split(path.sep).join('/') : uri;
    if (fsPath && this.isExcluded(fsPath, root)) {
      for (const cell of nb.cells) this.forget(cell.uri);
      return;
    }
    // While the notebook is open its cells speak for it: drop what a scan found in the .ipynb file.
    if (this.known.delete(uri)) void this.connection.sendDiagnostics({ uri, diagnostics: [] });
    const { policy } = this.policyFor(root);
    const catalog = catalogForPolicy(this.catalog, policy);
    const magics = { source: program.source, shell: program.shell };
    const { findings } = await analyzeDocument(displayPath, program.text, 'python', { catalog, rules: this.settings.rules, magics });
    if (this.notebooks.get(uri) !== nb || nb.version !== version) return;
    applyPolicy(findings, policy, { baseDir: root });
    const texts = new Map(cells.map((c) => [c.uri, c.text]));
    for (const [cellUri, list] of findingsByCell(findings, program, cells)) {
      const stepUris = new Map(list.map((x) => [x.finding.fingerprint, x.stepUris]));
      const locateStep: StepLocator = (f, i) => {
        const target = stepUris.get(f.fingerprint)?.[i];
        const step = f.trace[i];
        if (!target || !step) return undefined;
        const conv = new PositionConverter(texts.get(target) ?? '', this.encoding);
        return { uri: target, range: conv.rangeOf(step.startOffset, step.endOffset) };
      };
      const file = { uri: cellUri, findings: list.map((x) => x.finding), text: texts.get(cellUri) ?? '', locateStep };
      this.known.set(cellUri, file);
      this.publish(file);
    }
    this.sendPolicyStatus();
  }

  async closeNotebook(uri: string): Promise<void> {
    const nb = this.notebooks.get(uri);
    this.notebooks.delete(uri);
    for (const cell of nb?.cells ?? []) this.forget(cell.uri);
    const fsPath = uriToPath(uri);
    if (fsPath && fs.existsSync(fsPath)) await this.rescanFiles([fsPath]);
  }

  // ---- closed files ---------------------------------------------------------------------------------

  private isExcluded(fsPath: string, root: string): boolean {
    if (this.settings.exclude.length === 0) return false;
    const rel = path.relative(root, fsPath).split(path.sep).join('/');
    return !!rel && !rel.startsWith('..') && ignore().add(this.settings.exclude).ignores(rel);
  }

  private async scanRoot(paths: string[], root: string, progress?: ProgressReporter, total = 1, index = 0): Promise<ScanReport> {
    const { policy } = this.policyFor(root);
    return scanPaths(paths, {
      catalog: this.catalog,
      rules: this.settings.rules,
      baseDir: root,
      policy,
      exclude: this.settings.exclude,
      maxFileBytes: this.settings.maxFileSize,
      onProgress: progress
        ? (done, count, file) => progress.report(Math.floor(((index + done / Math.max(count, 1)) / total) * 100), `${done}/${count} ${file}`)
        : undefined,
      isCancelled: progress ? () => progress.isCancelled() : undefined,
    });
  }

  /**
   * Takes a scan's findings into the known files. `scannedFiles` (a rescan of those files) or `wholeRoot`
   * (a scan of a folder) say which earlier results the scan replaces, so that fixed files are cleared.
   */
  private absorb(report: ScanReport, scannedFiles?: string[], wholeRoot?: string): void {
    const byPath = new Map<string, Finding[]>();
    for (const f of report.findings) {
      const abs = path.resolve(report.baseDir, f.evidence.path);
      byPath.set(abs, [...(byPath.get(abs) ?? []), f]);
    }
    for (const abs of scannedFiles ?? []) if (!byPath.has(abs)) byPath.set(abs, []);
    if (wholeRoot && !report.cancelled) {
      for (const uri of this.known.keys()) {
        const p = uriToPath(uri);
        if (p && !this.documents.has(uri) && p.startsWith(wholeRoot + path.sep) && !byPath.has(p)) byPath.set(p, []);
      }
    }
    for (const [abs, findings] of byPath) {
      const uri = pathToUri(abs);
      if (this.documents.has(uri) || this.notebooks.has(uri)) continue; // the editor's text wins over the disk
      let text = '';
      try {
        text = fs.readFileSync(abs, 'utf8');
      } catch {
        text = '';
      }
      // Notebook findings from a scan have offsets into the joined cells: place them by their .ipynb line/column.
      const file: KnownFile = { uri, findings, text, ...(abs.endsWith('.ipynb') ? { byLineColumn: true } : {}) };
      this.known.set(uri, file);
      this.publish(file);
    }
  }

  /** Scans every workspace folder, publishing diagnostics for closed files too. */
  async scanWorkspace(progress?: ProgressReporter): Promise<{ filesScanned: number; findings: number; cancelled: boolean }> {
    let filesScanned = 0;
    let findings = 0;
    let cancelled = false;
    try {
      for (const [i, root] of this.roots.entries()) {
        const report = await this.scanRoot([root], root, progress, this.roots.length, i);
        filesScanned += report.filesScanned;
        findings += report.findings.length;
        this.absorb(report, undefined, root);
        if (report.cancelled) {
          cancelled = true;
          break;
        }
      }
    } finally {
      progress?.done();
    }
    this.sendPolicyStatus();
    return { filesScanned, findings, cancelled };
  }

  /** Files changed on disk (file watcher): rescan those that are not open. */
  async rescanFiles(files: string[]): Promise<void> {
    const byRoot = new Map<string, string[]>();
    for (const f of files) {
      if (this.documents.has(pathToUri(f))) continue;
      if (!fs.existsSync(f)) {
        this.forget(pathToUri(f));
        continue;
      }
      const root = this.rootFor(f);
      byRoot.set(root, [...(byRoot.get(root) ?? []), f]);
    }
    for (const [root, list] of byRoot) this.absorb(await this.scanRoot(list, root), list);
    this.sendPolicyStatus();
  }

  forget(uri: string): void {
    this.known.delete(uri);
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
    this.sendPolicyStatus();
  }

  // ---- output ----------------------------------------------------------------------------------------

  /** A known file's findings, the text they refer to and its line index (shared with the diagnostics). */
  findingsFor(uri: string): { findings: Finding[]; text: string; converter: PositionConverter } | undefined {
    const file = this.known.get(uri);
    return file && { findings: file.findings, text: file.text, converter: this.converterFor(file) };
  }

  private visible(f: Finding): boolean {
    if (f.decision === 'suppressed') return this.settings.showSuppressed;
    return meetsMinimum(f.severity, this.settings.minimumSeverity);
  }

  /** Positions in the text a known file's findings refer to, built once per analysis or scan. */
  private converterFor(file: KnownFile): PositionConverter {
    if (file.converter?.text !== file.text || file.converter.encoding !== this.encoding) file.converter = new PositionConverter(file.text, this.encoding);
    return file.converter;
  }

  diagnosticsFor(file: KnownFile): Diagnostic[] {
    const converter = this.converterFor(file);
    const locate: StepLocator | undefined = file.byLineColumn
      ? (f, i) => ({ uri: file.uri, range: { start: converter.fromLineColumn(f.trace[i].startLine, f.trace[i].startColumn), end: converter.fromLineColumn(f.trace[i].endLine, f.trace[i].endColumn) } })
      : file.locateStep;
    return file.findings
      .filter((f) => this.visible(f))
      .map((f) => {
        const d = toDiagnostic(f, converter, file.uri, locate);
        if (file.byLineColumn) d.range = { start: converter.fromLineColumn(f.evidence.startLine, f.evidence.startColumn), end: converter.fromLineColumn(f.evidence.endLine, f.evidence.endColumn) };
        return d;
      });
  }

  private publish(file: KnownFile, version?: number): void {
    void this.connection.sendDiagnostics({ uri: file.uri, version, diagnostics: this.diagnosticsFor(file) });
  }

  /** Re-filter and republish everything (settings changed). */
  republishAll(): void {
    for (const file of this.known.values()) this.publish(file);
    this.sendPolicyStatus(true);
  }

  policyStatus(): PolicyStatus {
    const all = [...this.known.values()].flatMap((k) => k.findings.map((f) => ({ f, uri: k.uri, file: k })));
    const root = this.roots[0] ?? process.cwd();
    const { policy, error } = this.policyFor(root);
    const summary = summarize(all.map((x) => x.f), policy);
    const gating: GatingFinding[] = all
      .filter((x) => x.f.decision === 'block' || x.f.decision === 'ticket')
      .sort((a, b) => (a.f.decision === b.f.decision ? (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0) || a.f.evidence.startOffset - b.f.evidence.startOffset : a.f.decision === 'block' ? -1 : 1))
      .map((x) => {
        const pos = this.converterFor(x.file).positionAt(x.f.evidence.startOffset);
        return {
          ruleId: x.f.ruleId,
          severity: x.f.severity,
          title: x.f.title,
          uri: x.uri,
          line: pos.line,
          character: pos.character,
          decision: x.f.decision as 'block' | 'ticket',
          fingerprint: x.f.fingerprint,
        };
      });
    return {
      decision: summary.decision,
      bySeverity: summary.bySeverity,
      blocking: summary.blocking,
      tickets: summary.tickets,
      suppressed: summary.suppressed,
      findings: gating,
      retest: policy.retest,
      ...(policy.path ? { policyUri: pathToUri(policy.path) } : {}),
      ...(error ? { policyError: error } : {}),
    };
  }

  /** Sends `sentinel/policyStatus` when it differs from the last one sent (or always, when forced). */
  sendPolicyStatus(force = false): void {
    const status = this.policyStatus();
    const key = JSON.stringify(status);
    if (!force && key === this.lastStatus) return;
    this.lastStatus = key;
    void this.connection.sendNotification(POLICY_STATUS_NOTIFICATION, status);
  }

  /**
   * The retest: the same scan the policy's retest command runs (`sentinel sast <paths> --rule <sel>`), from
   * the policy's folder, with the CLI's exit-code rule applied.
   */
  async retest(): Promise<RetestResult> {
    const root = this.roots[0] ?? process.cwd();
    const { policy } = this.policyFor(root);
    const words = policy.retest.split(/\s+/).filter(Boolean);
    const sast = words.indexOf('sast');
    const paths: string[] = [];
    const rules: string[] = [];
    for (let i = sast + 1; sast >= 0 && i < words.length; i++) {
      if (words[i] === '--rule' || words[i] === '-r') rules.push(words[++i] ?? '');
      else if (words[i].startsWith('--rule=')) rules.push(words[i].slice(7));
      else if (words[i].startsWith('-')) i += ['--format', '-f', '--output', '-o', '--policy', '-p', '--max-file-size', '--baseline', '--baseline-ref', '--changed-since', '--fail-on', '--report'].includes(words[i]) ? 1 : 0;
      else paths.push(words[i].replace(/^["']|["']$/g, ''));
    }
    const base = policy.path ? path.dirname(policy.path) : root;
    const existing = paths.map((p) => path.resolve(base, p)).filter((p) => fs.existsSync(p));
    const targets = existing.length > 0 ? existing : [root];
    const report = await scanPaths(targets, { catalog: this.catalog, rules: rules.length ? rules : this.settings.rules, baseDir: root, policy });
    this.absorb(report, undefined);
    this.sendPolicyStatus();
    return {
      command: policy.retest,
      decision: report.summary.decision,
      exitCode: report.summary.decision === 'blocked' ? 1 : 0,
      blocking: report.summary.blocking,
      tickets: report.summary.tickets,
      suppressed: report.summary.suppressed,
      filesScanned: report.filesScanned,
    };
  }
}
