// Scores a scan against annotated files: every `expect:` must be reported on the line below it, every `ok:`
// must stay quiet, and anything else reported is an extra. Used by the fixture suite and by `npm run score`,
// which scores any annotated folder (a held-out set written apart from this repo).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Finding, ScanReport } from '../../server/src/engine/finding';
import { type Annotation, type Annotations, annotationsIn, describeCase } from './annotations';

export const REPO = path.resolve(__dirname, '..', '..');
export const RULE_IDS = ['JIT-EVAL-COMPILE', 'JIT-DYNAMIC-KERNEL', 'JIT-CACHE-POISONING'];

/** Repo-relative, forward-slash path: how files are named in messages. */
export function rel(abs: string): string {
  return path.relative(REPO, abs).split(path.sep).join('/');
}

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

export function isNotebook(file: string): boolean {
  return file.toLowerCase().endsWith('.ipynb');
}

/** Annotations of every file under `dir`, keyed by absolute path (files without any are kept: they must stay quiet). */
export function expectationsUnder(dir: string): Map<string, Annotations> {
  const map = new Map<string, Annotations>();
  for (const file of filesUnder(dir)) map.set(file, annotationsIn(fs.readFileSync(file, 'utf8'), rel(file)));
  return map;
}

/** Where a case or a finding sits: the file line, or (cell, line in cell) for notebooks. */
export function annotationKey(a: Annotation): string {
  return a.cell === undefined ? `L${a.line}` : `C${a.cell}:${a.line}`;
}

export function findingKey(abs: string, f: Finding): string {
  if (isNotebook(abs)) return f.evidence.cell ? `C${f.evidence.cell.cell}:${f.evidence.cell.line}` : `L${f.evidence.startLine}`;
  return `L${f.evidence.startLine}`;
}

export function findingLabel(abs: string, f: Finding): string {
  const cell = f.evidence.cell;
  const where = cell ? `${rel(abs)} cell ${cell.cell} line ${cell.line} (file line ${f.evidence.startLine})` : `${rel(abs)}:${f.evidence.startLine}`;
  const snippet = f.evidence.snippet.split('\n')[0]?.trim().slice(0, 80) ?? '';
  return `${where}  ${f.ruleId}  \`${snippet}\``;
}

export interface RuleScore {
  truePositives: number;
  missed: number;
  extra: number;
  oks: number;
  oksQuiet: number;
}

export interface Comparison {
  missed: string[];
  extra: string[];
  /** Notebook findings in the right cell and line whose `startLine` is not the .ipynb line of that source line. */
  wrongFileLine: string[];
  warnings: string[];
  scores: Map<string, RuleScore>;
}

export function emptyScore(): RuleScore {
  return { truePositives: 0, missed: 0, extra: 0, oks: 0, oksQuiet: 0 };
}

export function compare(report: ScanReport, expectations: Map<string, Annotations>): Comparison {
  const result: Comparison = { missed: [], extra: [], wrongFileLine: [], warnings: [], scores: new Map() };
  // Every case counts twice: under its rule and under `rule language`.
  const one = (key: string): RuleScore => {
    let s = result.scores.get(key);
    if (!s) result.scores.set(key, (s = emptyScore()));
    return s;
  };
  const bump = (rule: string, abs: string, field: keyof RuleScore): void => {
    one(rule)[field]++;
    one(`${rule} ${languageOf(abs)}`)[field]++;
  };
  for (const rule of RULE_IDS) one(rule);

  // Findings by file, then by `rule@location`.
  const found = new Map<string, Map<string, Finding[]>>();
  for (const f of report.findings) {
    const abs = path.resolve(report.baseDir, f.evidence.path);
    const byKey = found.get(abs) ?? new Map<string, Finding[]>();
    found.set(abs, byKey);
    const key = `${f.ruleId}@${findingKey(abs, f)}`;
    byKey.set(key, [...(byKey.get(key) ?? []), f]);
  }

  const expectedKeys = new Map<string, Set<string>>();
  for (const [abs, ann] of expectations) {
    const keys = new Set<string>();
    expectedKeys.set(abs, keys);
    for (const a of ann.expects) {
      const key = `${a.rule}@${annotationKey(a)}`;
      keys.add(key);
      const hits = found.get(abs)?.get(key) ?? [];
      if (hits.length === 0) {
        result.missed.push(`${describeCase(rel(abs), a)}  ${a.rule}`);
        bump(a.rule, abs, 'missed');
        continue;
      }
      bump(a.rule, abs, 'truePositives');
      if (a.fileLine !== undefined && !hits.some((f) => f.evidence.startLine === a.fileLine)) {
        result.wrongFileLine.push(`${describeCase(rel(abs), a)}  ${a.rule}: evidence.startLine ${hits.map((f) => f.evidence.startLine).join(', ')}`);
      }
    }
    for (const a of ann.oks) {
      bump(a.rule, abs, 'oks');
      if ((found.get(abs)?.get(`${a.rule}@${annotationKey(a)}`) ?? []).length === 0) bump(a.rule, abs, 'oksQuiet');
    }
  }

  for (const [abs, byKey] of found) {
    const keys = expectedKeys.get(abs);
    for (const [key, findings] of byKey) {
      if (keys?.has(key)) continue;
      const okCase = expectations.get(abs)?.oks.some((a) => `${a.rule}@${annotationKey(a)}` === key);
      for (const f of findings) {
        result.extra.push(`${findingLabel(abs, f)}${okCase ? '  [on an ok: case]' : ''}`);
        bump(f.ruleId, abs, 'extra');
      }
    }
  }

  result.warnings = report.warnings.map((w) => `${w.path}${w.line ? `:${w.line}` : ''}  ${w.code}: ${w.message}`);
  return result;
}

export function ratio(n: number, d: number): string {
  return d === 0 ? 'n/a' : (n / d).toFixed(2);
}

export function scoreLines(scores: Map<string, RuleScore>): string[] {
  return [...scores]
    .sort(([a], [b]) => a.localeCompare(b))
    .filter(([, s]) => s.truePositives + s.missed + s.extra + s.oks > 0)
    .map(
    ([rule, s]) =>
      `${rule.padEnd(32)} precision ${ratio(s.truePositives, s.truePositives + s.extra)} (${s.truePositives}/${s.truePositives + s.extra})` +
      `  recall ${ratio(s.truePositives, s.truePositives + s.missed)} (${s.truePositives}/${s.truePositives + s.missed})` +
      `  ok cases quiet ${s.oksQuiet}/${s.oks}`,
  );
}

export function failureReport(title: string, c: Comparison): string | undefined {
  if (c.missed.length + c.extra.length + c.wrongFileLine.length + c.warnings.length === 0) return undefined;
  const section = (name: string, items: string[]): string[] => (items.length ? [`${name} (${items.length}):`, ...items.map((i) => `  ${i}`)] : []);
  return [
    `${title}: ${c.missed.length} missed, ${c.extra.length} extra`,
    ...section('missed (expected, not reported)', c.missed),
    ...section('extra (reported, not expected)', c.extra),
    ...section('notebook findings with the wrong .ipynb line', c.wrongFileLine),
    ...section('scan warnings', c.warnings),
    'per rule:',
    ...scoreLines(c.scores).map((l) => `  ${l}`),
  ].join('\n');
}

/** How a fixture file is counted in the coverage table. */
export function languageOf(file: string): string {
  const base = path.basename(file);
  if (base === 'Dockerfile' || base.endsWith('.Dockerfile')) return 'dockerfile';
  if (base === '.env' || base.endsWith('.env')) return 'dotenv';
  const ext = path.extname(base).toLowerCase();
  const byExt: Record<string, string> = {
    '.py': 'python',
    '.pyi': 'python',
    '.ipynb': 'notebook',
    '.js': 'javascript',
    '.mjs': 'javascript',
    '.cjs': 'javascript',
    '.ts': 'typescript',
    '.tsx': 'tsx',
    '.cu': 'cuda',
    '.cuh': 'cuda',
    '.cpp': 'cuda',
    '.cc': 'cuda',
    '.h': 'cuda',
    '.sh': 'shell',
    '.bash': 'shell',
    '.yml': 'yaml',
    '.yaml': 'yaml',
  };
  return byExt[ext] ?? 'other';
}
