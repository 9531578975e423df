// `sentinel merge`: joins the reports of sharded scans (`sast --shard K/N`, one CI job each; --format json or
// sarif) into one report, and applies the release gate once over all of them, with the exit codes of `sast`.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BaselineError, findingsOfReport, parseReportText, regate } from '../engine/baseline';
import { type CacheTree, type Finding, type ScanReport, type ScanWarning, type WarningCode } from '../engine/finding';
import { type Catalog, loadCatalog, ruleSummary } from '../engine/rules/catalog';
import { ENGINE_VERSION, gateFindings } from '../engine/scanner';
import { parseCommandArgs } from './args';
import { applyFailOn, type CliIo, deliverReport, MAX_REPORT_BYTES, parseFailOn, readInputFile, usage } from './main';

/** What a report adds besides its findings (read from the JSON report itself, or from a SARIF run's properties). */
interface ReportExtras {
  roots: string[];
  rulesRun: string[];
  warnings: ScanWarning[];
  filesScanned: number;
  cacheTrees: CacheTree[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The non-finding parts of a saved report; anything missing or malformed counts as empty (the findings were validated). */
function extrasOf(data: unknown): ReportExtras {
  const extras: ReportExtras = { roots: [], rulesRun: [], warnings: [], filesScanned: 0, cacheTrees: [] };
  if (!isRecord(data)) return extras;
  if (Array.isArray(data.runs)) {
    for (const run of data.runs) {
      if (!isRecord(run)) continue;
      const props = isRecord(run.properties) ? run.properties : {};
      if (typeof props.filesScanned === 'number') extras.filesScanned += props.filesScanned;
      const driver = isRecord(run.tool) && isRecord(run.tool.driver) ? run.tool.driver : {};
      for (const rule of Array.isArray(driver.rules) ? driver.rules : []) if (isRecord(rule) && typeof rule.id === 'string') extras.rulesRun.push(rule.id);
      for (const inv of Array.isArray(run.invocations) ? run.invocations : []) {
        for (const n of isRecord(inv) && Array.isArray(inv.toolExecutionNotifications) ? inv.toolExecutionNotifications : []) {
          if (!isRecord(n)) continue;
          const code = isRecord(n.descriptor) && typeof n.descriptor.id === 'string' ? n.descriptor.id : 'internal-error';
          const text = isRecord(n.message) && typeof n.message.text === 'string' ? n.message.text : '';
          const colon = text.indexOf(': ');
          extras.warnings.push({ code: code as WarningCode, path: colon > 0 ? text.slice(0, colon) : '', message: colon > 0 ? text.slice(colon + 2) : text });
        }
      }
    }
    return extras;
  }
  if (Array.isArray(data.roots)) extras.roots = data.roots.filter((r): r is string => typeof r === 'string');
  if (Array.isArray(data.rulesRun)) extras.rulesRun = data.rulesRun.filter((r): r is string => typeof r === 'string');
  if (Array.isArray(data.warnings)) extras.warnings = data.warnings.filter((w): w is ScanWarning => isRecord(w) && typeof w.code === 'string' && typeof w.path === 'string');
  if (typeof data.filesScanned === 'number') extras.filesScanned = data.filesScanned;
  if (Array.isArray(data.cacheTrees)) extras.cacheTrees = data.cacheTrees as CacheTree[];
  return extras;
}

function byPlace(a: Finding, b: Finding): number {
  const ka = [a.evidence.path, a.evidence.startOffset, a.ruleId, a.fingerprint] as const;
  const kb = [b.evidence.path, b.evidence.startOffset, b.ruleId, b.fingerprint] as const;
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return 0;
}

/** A report to merge: a regular file of at most MAX_REPORT_BYTES, read once, without blocking. */
export function readReportFile(file: string): Buffer {
  return readInputFile(file, 'report', MAX_REPORT_BYTES);
}

/**
 * A report given twice. `same: 'file'`: `file` is the file `sameAs` names (the same path, a link to it), so it
 * was left out. `same: 'bytes'`: another file with the same bytes, kept: shards with no findings and equal file
 * counts write identical reports, so only a warning can say it may be a copy.
 */
export interface DuplicateReport {
  file: string;
  sameAs: string;
  same: 'file' | 'bytes';
}

/**
 * Joins the reports' findings (one copy of a finding two reports share) and warnings, in a stable order. Each
 * report is read as a regular file of at most MAX_REPORT_BYTES (else a UsageError naming it); the same file
 * given again is left out, so filesScanned does not double, and listed in `duplicates` with byte-identical copies.
 * `readReport` is how a report's bytes are read (tests wrap it to see each read).
 */
export function mergeReports(
  files: string[],
  catalog: Catalog,
  readReport: (file: string) => Buffer = readReportFile,
): { findings: Finding[]; extras: ReportExtras; duplicates: DuplicateReport[] } {
  const seen = new Set<string>();
  const findings: Finding[] = [];
  const extras: ReportExtras = { roots: [], rulesRun: [], warnings: [], filesScanned: 0, cacheTrees: [] };
  const warningKeys = new Set<string>();
  const byIdentity = new Map<string, string>();
  const byDigest = new Map<string, string>();
  const duplicates: DuplicateReport[] = [];
  for (const file of files) {
    const bytes = readReport(file);
    const st = fs.statSync(file);
    const identity = `${st.dev}:${st.ino}`;
    const sameFile = byIdentity.get(identity);
    if (sameFile !== undefined) {
      duplicates.push({ file, sameAs: sameFile, same: 'file' });
      continue;
    }
    byIdentity.set(identity, file);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const sameBytes = byDigest.get(digest);
    if (sameBytes !== undefined) duplicates.push({ file, sameAs: sameBytes, same: 'bytes' });
    else byDigest.set(digest, file);
    const data = parseReportText(file, bytes.toString('utf8'));
    for (const f of findingsOfReport(file, data, catalog)) {
      const key = `${f.evidence.path}\0${f.ruleId}\0${f.fingerprint}`;
      if (seen.has(key)) continue;
      seen.add(key);
      // The gate is decided again here: what an earlier policy decided or overrode is reset to the rule's own.
      const card = catalog.byId.get(f.ruleId);
      if (card) f.owner = ruleSummary(card).owner;
      if (f.suppression?.kind === 'policy') delete f.suppression;
      delete f.baselineState;
      f.decision = f.suppression ? 'suppressed' : 'report';
      findings.push(f);
    }
    const more = extrasOf(data);
    extras.filesScanned += more.filesScanned;
    for (const r of more.roots) if (!extras.roots.includes(r)) extras.roots.push(r);
    for (const r of more.rulesRun) if (!extras.rulesRun.includes(r)) extras.rulesRun.push(r);
    for (const t of more.cacheTrees) if (!extras.cacheTrees.some((x) => x.path === t.path)) extras.cacheTrees.push(t);
    for (const w of more.warnings) {
      // Policy warnings are recomputed by the merged gate.
      if (w.code === 'policy-expired-allowlist') continue;
      const key = `${w.code}\0${w.path}\0${w.line ?? ''}\0${w.message}`;
      if (warningKeys.has(key)) continue;
      warningKeys.add(key);
      extras.warnings.push(w);
    }
  }
  findings.sort(byPlace);
  extras.roots.sort();
  extras.cacheTrees.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { findings, extras, duplicates };
}

export async function runMerge(args: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, io);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals, format, extra } = parsed;
  if (positionals.length === 0) return usage(io, 'merge needs at least one report (--format json or sarif) to join');
  for (const p of positionals) if (!fs.existsSync(p)) return usage(io, `report '${p}' does not exist`);
  if (values.policy !== undefined && !fs.existsSync(values.policy)) return usage(io, `policy file '${values.policy}' does not exist`);
  const failOn = parseFailOn(values['fail-on']);
  if (failOn instanceof Error) return usage(io, failOn.message);

  const start = new Date();
  const catalog = loadCatalog();
  let merged: ReturnType<typeof mergeReports>;
  try {
    merged = mergeReports(positionals, catalog);
  } catch (err) {
    // The loader is shared with --baseline and says "baseline"; here the file is a report to merge.
    if (err instanceof BaselineError) return usage(io, `report '${err.file}' ${err.reason}`);
    throw err;
  }
  const { findings, extras, duplicates } = merged;
  const leftOut = duplicates.filter((d) => d.same === 'file').length;
  for (const d of duplicates) {
    if (d.same === 'file') {
      const same = path.resolve(d.file) === path.resolve(d.sameAs) ? 'is given twice' : `is the same file as report '${d.sameAs}'`;
      io.stderr(`sentinel: warning: report '${d.file}' ${same}; counted once, so its findings and files scanned are not doubled\n`);
    } else {
      io.stderr(
        `sentinel: warning: report '${d.file}' holds the same bytes as report '${d.sameAs}'; both are counted (shards can write equal reports),` +
          ' so if it is a copy, its files scanned are counted twice\n',
      );
    }
  }
  // Report paths are relative to the folder each shard scanned from: run merge from that same folder.
  const baseDir = process.cwd();
  const gate = gateFindings(findings, { catalog, baseDir, policyPath: values.policy });
  const report: ScanReport = {
    tool: { name: 'sentinel', version: ENGINE_VERSION },
    roots: extras.roots,
    baseDir,
    rulesRun: extras.rulesRun,
    ...(gate.policy.path ? { policyPath: gate.policy.path } : {}),
    findings,
    warnings: [...extras.warnings, ...gate.warnings],
    filesScanned: extras.filesScanned,
    ...(extras.cacheTrees.length > 0 ? { cacheTrees: extras.cacheTrees } : {}),
    summary: gate.summary,
    ...(gate.policyRoots ? { policyRoots: gate.policyRoots } : {}),
  };
  if (failOn !== undefined) {
    applyFailOn(report.findings, failOn);
    regate(report);
  }
  const s = report.summary;
  return deliverReport(io, report, {
    format,
    extra,
    output: values.output,
    color: values['no-color'] ? false : values.color ? true : undefined,
    ctx: { catalog, times: { start, end: new Date() }, omitAbsent: false },
    summary:
      `${report.findings.length} finding(s) from ${positionals.length - leftOut} report(s)` +
      `${leftOut > 0 ? ` (${leftOut} given twice, counted once)` : ''}, ${report.filesScanned} file(s); gate ${s.decision}` +
      ` (${s.blocking} blocking, ${s.tickets} ticket, ${s.suppressed} suppressed)`,
  });
}
