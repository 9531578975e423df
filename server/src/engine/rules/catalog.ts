// Loads the rule catalog (rules/*.yml) with js-yaml, validates each card against rules/rule.schema.json
// and exposes rules by ID. A broken card is a CatalogError naming the file and the field.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import * as yaml from 'js-yaml';
import { rulesDir } from '../assets';
import { CHECKS_SHIPPED_SCHEMAS, compileSchema } from '../validation';
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
  /** Qualified name after import resolution; `*` matches any run of characters (`*.chat.completions.create`). */
  api: string;
  note: string;
}

/** A method on any receiver whose text matches `receiver` (a case-insensitive regular expression), when given. */
export interface MethodSourceSpec {
  method: string;
  receiver?: string;
  note: string;
}

/** Objects made by `api` whose use is a source: calling them (`use: call`) or reading an attribute (`use: .value`). */
export interface ObjectSourceSpec {
  api: string;
  use: string;
  note: string;
}

/**
 * Parameters that hold external data: of functions decorated by `decorator` (`*.route`, `tool`), or of the
 * function passed to a call of `callee`, as argument `arg` or as property `property` of an object argument.
 */
export interface ParameterSourceSpec {
  decorator?: string;
  callee?: string;
  arg?: number;
  property?: string;
  /** Only when the call's first argument is this string literal (`addEventListener('message', …)`). */
  firstArg?: string;
  note: string;
}

/** A call whose result cannot carry code (a number cast), or a guard call that proves a value's shape. */
export interface SanitizerSpec {
  api: string;
  note: string;
  /** Guards only: the argument holding the pattern and the one holding the checked value. */
  pattern?: number;
  value?: number;
}

export interface SanitizerModel {
  casts: SanitizerSpec[];
  guards: SanitizerSpec[];
}

export interface SourceModel {
  calls: SourceSpec[];
  attributes: SourceSpec[];
  methods?: MethodSourceSpec[];
  objects?: ObjectSourceSpec[];
  parameters?: ParameterSourceSpec[];
  sanitizers?: SanitizerModel;
}

/**
 * When a sink counts, beyond its name (rules/sink-context.yml): the file imports one of `requiresImport`, the
 * receiver's text does not match `receiverExclude`, the receiver was made by one of `receiverFrom`, or the
 * code argument is derived from a call of one of `codeFrom` (or from a source).
 */
export interface SinkContext {
  languages: LanguageId[];
  api?: string;
  method?: string;
  requiresImport?: string[];
  receiverExclude?: string;
  /** The receiver's text matches (case-insensitive), or it was made by one of `receiverFrom`. */
  receiverInclude?: string;
  receiverFrom?: string[];
  codeFrom?: string[];
}

export interface Catalog {
  dir: string;
  rules: RuleCard[];
  byId: Map<string, RuleCard>;
  /** Source models by language family (`python`, `javascript`, `cuda`), sanitizers included. */
  sources: Record<string, SourceModel>;
  /** Conditions some sinks need before they count (rules/sink-context.yml). */
  sinkContexts?: SinkContext[];
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

/**
 * One schema error as a field path and a reason, for messages that name the file and the field. The data that
 * uses `pattern` may say in words what the pattern admits (`patternReason`).
 */
/**
 * The error of a failed validation that says most about what to fix: the one deepest in the data, leaving out the
 * summaries of `oneOf`/`anyOf` branches (`args: ["x"]` is "args.0 must be integer", not "args must be equal to
 * constant", the other branch's complaint). With allErrors off there is one error, and it is that one.
 */
export function mostSpecificError(errors: ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject): number => e.instancePath.split('/').length;
  const candidates = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  return (candidates.length > 0 ? candidates : errors).reduce((best, e) => (depth(e) > depth(best) ? e : best));
}

export function describeAjvError(e: ErrorObject, patternReason?: string): { field: string; reason: string } {
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
  if (e.keyword === 'pattern' && patternReason) return { field: base, reason: patternReason };
  return { field: base, reason: e.message ?? e.keyword };
}

/** A data file of the catalog parsed as YAML (core schema), or a CatalogError naming the file and the reason. */
export function readYaml(file: string): unknown {
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
  const validate = CHECKS_SHIPPED_SCHEMAS ? compileSchema(schema, 'all-errors') : undefined;
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
    if (validate && !validate(data)) {
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
  const sources = loadModelFile<Record<string, SourceModel>>(dir, 'sources.yml', 'sources.schema.json', {});
  for (const model of Object.values(sources)) normaliseSourceModel(model);
  const contexts = loadModelFile<{ sinks?: SinkContext[] }>(dir, 'sink-context.yml', 'sink-context.schema.json', {});
  const catalog: Catalog = { dir, rules, byId, sources, sinkContexts: contexts.sinks ?? [] };
  cache.set(dir, catalog);
  return catalog;
}

/** Fills the optional lists of a source model, so checks never test for them. */
function normaliseSourceModel(model: SourceModel): SourceModel {
  model.calls ??= [];
  model.attributes ??= [];
  model.methods ??= [];
  model.objects ??= [];
  model.parameters ??= [];
  model.sanitizers ??= { casts: [], guards: [] };
  model.sanitizers.casts ??= [];
  model.sanitizers.guards ??= [];
  return model;
}

/** A model file of `dir` validated against its schema; `fallback` when the file does not exist. */
function loadModelFile<T>(dir: string, name: string, schemaName: string, fallback: T): T {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) return fallback;
  const data = readYaml(file) ?? fallback;
  const validate = modelValidator(dir, schemaName);
  if (validate && !validate(data)) {
    const first = describeAjvError(validate.errors![0]);
    throw new CatalogError(file, first.field, first.reason);
  }
  return data as T;
}

const validators = new Map<string, ValidateFunction | undefined>();

function modelValidator(dir: string, schemaName: string): ValidateFunction | undefined {
  const schemaFile = path.join(dir, schemaName);
  if (validators.has(schemaFile)) return validators.get(schemaFile);
  let validate: ValidateFunction | undefined;
  if (CHECKS_SHIPPED_SCHEMAS && fs.existsSync(schemaFile)) {
    try {
      validate = compileSchema(JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as object, 'all-errors');
    } catch (err) {
      throw new CatalogError(schemaFile, '', `cannot be loaded: ${(err as Error).message}`);
    }
  }
  validators.set(schemaFile, validate);
  return validate;
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
  /** Extra sources (and `sanitizers`) by language family (`python`, `javascript`, `cuda`), in the shape of rules/sources.yml. */
  sources?: Record<string, Partial<SourceModel>>;
}

const SOURCE_LISTS = ['calls', 'attributes', 'methods', 'objects', 'parameters'] as const;
/** The sources.schema.json definition each list of an extra source model is checked against. */
const SOURCE_LIST_DEFINITIONS: Record<(typeof SOURCE_LISTS)[number], string> = {
  calls: 'named',
  attributes: 'named',
  methods: 'method',
  objects: 'object',
  parameters: 'parameter',
};
/** The sources.schema.json definitions an extra source model's entries are checked against (its lists', then the sanitizers'). */
export const SOURCE_ENTRY_DEFINITIONS = [...new Set([...Object.values(SOURCE_LIST_DEFINITIONS), 'cast', 'guard'])];

type RuleSchema = { definitions: { sink: object } & Record<string, unknown> };

/** The schema of one extra sink: rule.schema.json's `sink` definition, with the definitions it refers to. */
export function sinkSchema(ruleSchema: RuleSchema): object {
  return { ...ruleSchema.definitions.sink, definitions: ruleSchema.definitions };
}

/** The schema of one extra source-model entry: sources.schema.json's definition `def`, with the definitions it refers to. */
export function sourceEntrySchema(sourcesSchema: { definitions: Record<string, unknown> }, def: string): object {
  return { ...(sourcesSchema.definitions[def] as object), definitions: sourcesSchema.definitions };
}

/**
 * A copy of `base` with in-house sinks, sources and sanitizers added (an LLM client or request wrapper the
 * catalog does not know). Entries that do not fit the schemas are returned as errors and left out, never thrown.
 */
export function extendCatalog(base: Catalog, extension: CatalogExtension): { catalog: Catalog; errors: string[] } {
  const errors: string[] = [];
  if (!extension.sinks?.length && !extension.sources) return { catalog: base, errors };
  const schema = JSON.parse(fs.readFileSync(path.join(base.dir, 'rule.schema.json'), 'utf8')) as RuleSchema;
  const validateSink = compileSchema(sinkSchema(schema), 'all-errors');
  const extraByRule = new Map<string, SinkSpec[]>();
  (extension.sinks ?? []).forEach((entry, i) => {
    const { rule, ...spec } = entry ?? ({} as SinkSpec & { rule: string });
    if (!base.byId.has(rule)) return errors.push(`extra sink ${i}: unknown rule '${String(rule)}'`);
    if (!validateSink(spec)) {
      const why = describeAjvError(mostSpecificError(validateSink.errors!));
      return errors.push(`extra sink ${i}: ${why.field || 'entry'} ${why.reason}`);
    }
    extraByRule.set(rule, [...(extraByRule.get(rule) ?? []), spec as SinkSpec]);
  });
  const rules = base.rules.map((r) => (extraByRule.has(r.id) ? { ...r, sinks: [...(r.sinks ?? []), ...extraByRule.get(r.id)!] } : r));
  const sources: Record<string, SourceModel> = { ...base.sources };
  const sourcesSchema = modelSchema(base.dir, 'sources.schema.json');
  for (const [family, model] of Object.entries(extension.sources ?? {})) {
    const current = normaliseSourceModel({ ...(sources[family] ?? { calls: [], attributes: [] }) });
    const next: SourceModel = { ...current, sanitizers: { casts: [...current.sanitizers!.casts], guards: [...current.sanitizers!.guards] } };
    const valid = <T>(key: string, list: unknown, def: string): T[] => {
      if (list === undefined) return [];
      if (!Array.isArray(list)) {
        errors.push(`extra source ${family}.${key}: must be a list`);
        return [];
      }
      const validate = sourcesSchema ? compileSchema(sourceEntrySchema(sourcesSchema, def), 'all-errors') : undefined;
      return list.filter((s, i) => {
        const ok = validate ? validate(s) : typeof (s as SourceSpec)?.note === 'string';
        if (!ok) {
          const why = validate?.errors?.[0] ? describeAjvError(mostSpecificError(validate.errors)) : { field: '', reason: 'needs a `note` string' };
          errors.push(`extra source ${family}.${key}[${i}]: ${why.field ? `${why.field} ` : ''}${why.reason}`);
        }
        return ok;
      }) as T[];
    };
    for (const key of SOURCE_LISTS) {
      const def = SOURCE_LIST_DEFINITIONS[key];
      (next[key] as unknown[]) = [...(current[key] ?? []), ...valid(key, model?.[key], def)];
    }
    const san = model?.sanitizers;
    if (san !== undefined && (typeof san !== 'object' || san === null || Array.isArray(san))) errors.push(`extra source ${family}.sanitizers: must be a mapping with \`casts\` and \`guards\``);
    else if (san) {
      next.sanitizers!.casts.push(...valid<SanitizerSpec>('sanitizers.casts', san.casts, 'cast'));
      next.sanitizers!.guards.push(...valid<SanitizerSpec>('sanitizers.guards', san.guards, 'guard'));
    }
    sources[family] = next;
  }
  return { catalog: { ...base, rules, byId: new Map(rules.map((r) => [r.id, r])), sources }, errors };
}

function modelSchema(dir: string, name: string): { definitions: Record<string, unknown> } | undefined {
  const file = path.join(dir, name);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { definitions: Record<string, unknown> }) : undefined;
}
