// Loads the rule catalog (rules/*.yml) with js-yaml, validates each card against rules/rule.schema.json
// and exposes rules by ID. A broken card is a CatalogError naming the file and the field.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import * as yaml from 'js-yaml';
import { rulesDir } from '../assets';
import type { LanguageId, RuleSummary, Severity } from '../finding';

export interface SinkSpec {
  languages: LanguageId[];
  api?: string;
  method?: string;
  args: number[] | 'all';
  keywords?: string[];
  property?: string;
  stringOnly?: boolean;
}

export interface RuleCard {
  id: string;
  category: string;
  severity: Severity;
  title: string;
  cwe: string;
  owaspLlm: string;
  fpRisk: 'HIGH' | 'MEDIUM' | 'LOW';
  owner: string;
  releaseDecision: string;
  fixHint: string;
  description: string;
  whyItMatters: string;
  whenItFires: string;
  evidenceFormat: string;
  falsePositiveNotes: string;
  howToFix: string;
  retest: string;
  helpUri: string;
  examples: { bad: string; good: string };
  related?: string[];
  sinks?: SinkSpec[];
  kernelMarkers?: string[];
  cacheVariables?: string[];
  cacheConfigKeys?: string[];
  sharedPathPrefixes?: string[];
  sharedPathCalls?: string[];
}

export interface SourceSpec {
  api: string;
  note: string;
}

export interface SourceModel {
  calls: SourceSpec[];
  attributes: SourceSpec[];
}

export interface Catalog {
  dir: string;
  rules: RuleCard[];
  byId: Map<string, RuleCard>;
  /** Source models by language family (`python`, `javascript`, `cuda`). */
  sources: Record<string, SourceModel>;
}

export class CatalogError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    reason: string,
  ) {
    super(`${file}: ${field ? `field '${field}': ` : ''}${reason}`);
    this.name = 'CatalogError';
  }
}

function describeAjvError(e: ErrorObject): { field: string; reason: string } {
  const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required') {
    const missing = String((e.params as { missingProperty: string }).missingProperty);
    return { field: base ? `${base}.${missing}` : missing, reason: 'is required but missing' };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    return { field: base ? `${base}.${extra}` : extra, reason: 'is not a known field' };
  }
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.join(', ');
    return { field: base, reason: `must be one of ${allowed}` };
  }
  return { field: base, reason: e.message ?? e.keyword };
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CatalogError(file, '', `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return yaml.load(text, { filename: file, schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new CatalogError(file, '', `is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

const cache = new Map<string, Catalog>();

/** Loads and validates every `*.yml` rule card in `dir` (default: the shipped catalog). Cached per folder. */
export function loadCatalog(dir: string = rulesDir()): Catalog {
  const cached = cache.get(dir);
  if (cached) return cached;
  const schemaFile = path.join(dir, 'rule.schema.json');
  let schema: object;
  try {
    schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as object;
  } catch (err) {
    throw new CatalogError(schemaFile, '', `cannot be loaded: ${(err as Error).message}`);
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const rules: RuleCard[] = [];
  const byId = new Map<string, RuleCard>();
  const files = fs
    .readdirSync(dir)
    // Rule cards are named by their ID; other YAML here (sources, the policy template) is not a rule.
    .filter((f) => /^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+\.yml$/.test(f))
    .sort();
  if (files.length === 0) throw new CatalogError(dir, '', 'holds no rule cards (*.yml)');
  for (const name of files) {
    const file = path.join(dir, name);
    const data = readYaml(file);
    if (!validate(data)) {
      const first = describeAjvError(validate.errors![0]);
      throw new CatalogError(file, first.field, first.reason);
    }
    const card = data as unknown as RuleCard;
    if (name !== `${card.id}.yml`) throw new CatalogError(file, 'id', `'${card.id}' does not match the file name`);
    if (byId.has(card.id)) throw new CatalogError(file, 'id', `'${card.id}' is defined twice`);
    for (const [i, sink] of (card.sinks ?? []).entries()) {
      if (sink.args !== 'all' && sink.args.length === 0 && !sink.keywords?.length) {
        throw new CatalogError(file, `sinks.${i}.args`, 'names no argument that carries code');
      }
    }
    rules.push(card);
    byId.set(card.id, card);
  }
  for (const card of rules) {
    for (const rel of card.related ?? []) {
      if (!byId.has(rel)) throw new CatalogError(path.join(dir, `${card.id}.yml`), 'related', `names unknown rule '${rel}'`);
    }
  }
  const sourcesFile = path.join(dir, 'sources.yml');
  const sources = fs.existsSync(sourcesFile) ? (readYaml(sourcesFile) as Record<string, SourceModel>) : {};
  for (const [lang, model] of Object.entries(sources ?? {})) {
    for (const key of ['calls', 'attributes'] as const) {
      const list = model?.[key] ?? [];
      if (!Array.isArray(list)) throw new CatalogError(sourcesFile, `${lang}.${key}`, 'must be a list');
      list.forEach((s, i) => {
        if (typeof s?.api !== 'string' || typeof s?.note !== 'string') {
          throw new CatalogError(sourcesFile, `${lang}.${key}.${i}`, 'needs `api` and `note` strings');
        }
      });
      model[key] = list;
    }
  }
  const catalog: Catalog = { dir, rules, byId, sources: sources ?? {} };
  cache.set(dir, catalog);
  return catalog;
}

export function ruleSummary(card: RuleCard): RuleSummary {
  return {
    ruleId: card.id,
    category: card.category,
    severity: card.severity,
    title: card.title,
    cwe: card.cwe,
    owaspLlm: card.owaspLlm,
    owner: card.owner,
    releaseDecision: card.releaseDecision,
    fixHint: card.fixHint,
    helpUri: card.helpUri,
  };
}

/**
 * Resolves `--rule` selectors (a category such as `JIT`, a rule ID, or comma-separated lists of either)
 * to rule cards. Unknown selectors are returned so the CLI can report a usage error.
 */
export function selectRules(catalog: Catalog, selectors: string[]): { rules: RuleCard[]; unknown: string[] } {
  if (selectors.length === 0) return { rules: catalog.rules, unknown: [] };
  const chosen = new Set<RuleCard>();
  const unknown: string[] = [];
  for (const raw of selectors.flatMap((s) => s.split(','))) {
    const sel = raw.trim().toUpperCase();
    if (!sel) continue;
    const matches = catalog.rules.filter((r) => r.id === sel || r.category === sel);
    if (matches.length === 0) unknown.push(raw.trim());
    matches.forEach((m) => chosen.add(m));
  }
  return { rules: catalog.rules.filter((r) => chosen.has(r)), unknown };
}

export interface CatalogExtension {
  /** Extra sinks, each naming the rule it belongs to (`{ rule: 'JIT-EVAL-COMPILE', languages: [python], api: 'mylib.run', args: [0] }`). */
  sinks?: (SinkSpec & { rule: string })[];
  /** Extra sources by language family (`python`, `javascript`, `cuda`). */
  sources?: Record<string, Partial<SourceModel>>;
}

/**
 * A copy of `base` with in-house sinks and sources added (an LLM client or request wrapper the catalog does
 * not know). Entries that do not fit the rule schema are returned as errors and left out, never thrown.
 */
export function extendCatalog(base: Catalog, extension: CatalogExtension): { catalog: Catalog; errors: string[] } {
  const errors: string[] = [];
  if (!extension.sinks?.length && !extension.sources) return { catalog: base, errors };
  const schema = JSON.parse(fs.readFileSync(path.join(base.dir, 'rule.schema.json'), 'utf8')) as { definitions: { sink: object } };
  const validateSink = new Ajv({ allErrors: true, strict: false }).compile({ ...schema.definitions.sink, definitions: schema.definitions });
  const extraByRule = new Map<string, SinkSpec[]>();
  (extension.sinks ?? []).forEach((entry, i) => {
    const { rule, ...spec } = entry ?? ({} as SinkSpec & { rule: string });
    if (!base.byId.has(rule)) return errors.push(`extra sink ${i}: unknown rule '${String(rule)}'`);
    if (!validateSink(spec)) return errors.push(`extra sink ${i}: ${describeAjvError(validateSink.errors![0]).field || 'entry'} ${describeAjvError(validateSink.errors![0]).reason}`);
    extraByRule.set(rule, [...(extraByRule.get(rule) ?? []), spec as SinkSpec]);
  });
  const rules = base.rules.map((r) => (extraByRule.has(r.id) ? { ...r, sinks: [...(r.sinks ?? []), ...extraByRule.get(r.id)!] } : r));
  const sources: Record<string, SourceModel> = { ...base.sources };
  for (const [family, model] of Object.entries(extension.sources ?? {})) {
    const add = (key: 'calls' | 'attributes'): SourceSpec[] =>
      (Array.isArray(model?.[key]) ? model[key]! : []).filter((s, i) => {
        const ok = typeof s?.api === 'string' && typeof s?.note === 'string';
        if (!ok) errors.push(`extra source ${family}.${key}[${i}]: needs \`api\` and \`note\` strings`);
        return ok;
      });
    const current = sources[family] ?? { calls: [], attributes: [] };
    sources[family] = { calls: [...current.calls, ...add('calls')], attributes: [...current.attributes, ...add('attributes')] };
  }
  return { catalog: { dir: base.dir, rules, byId: new Map(rules.map((r) => [r.id, r])), sources }, errors };
}
