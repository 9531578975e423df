// The release policy (`sentinel-policy.yml`): loading and validating it, finding it above a scanned path,
// and applying it to findings (owner, retest, allowlist suppression, block/ticket/report decision).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import * as yaml from 'js-yaml';
import picomatch from 'picomatch';
import policySchema from '../../../rules/policy.schema.json';
import { rulesDir } from './assets';
import { isDirectory, kindOf, OPEN_NONBLOCK, readAtMost } from './boundedRead';
import { SEVERITIES, type Finding, type ReportSummary, type ScanWarning, type Severity } from './finding';
import { type Catalog, type CatalogExtension, extendCatalog, loadCatalog, type SanitizerModel, type SourceModel } from './rules/catalog';
import { compileSchema } from './validation';

export const POLICY_FILE_NAMES = ['sentinel-policy.yml', 'sentinel-policy.yaml'] as const;

/** A policy is a few lines of YAML; anything bigger is a mistake or an attack on the parser. */
export const MAX_POLICY_BYTES = 1024 * 1024;

export interface RulePolicy {
  owner?: string;
  failOn?: Severity[];
  ticketOn?: Severity[];
  retest?: string;
}

export interface AllowEntry {
  /** A rule ID, a category (`JIT`) or `*`. */
  rule: string;
  /** Glob relative to the policy file's folder (picomatch, dot files included). */
  path?: string;
  fingerprint?: string;
  reason: string;
  /** YYYY-MM-DD; from this day on (UTC) the entry no longer suppresses. */
  expires?: string;
  /** Position in the file's `allowlist`, so messages and suppressions can point at the entry. */
  index: number;
  /** 1-based line of the entry in the policy file, when known. */
  line?: number;
}

export interface Policy {
  /** Absolute path of the policy file; undefined for the built-in default. */
  path?: string;
  /** The folder `allowlist[].path` globs are relative to. */
  dir: string;
  category: string;
  failOn: Severity[];
  ticketOn: Severity[];
  retest: string;
  rules: Record<string, RulePolicy>;
  allowlist: AllowEntry[];
  /** In-house sources, sinks and sanitizers from `models:`, for files under this policy. */
  models?: PolicyModels;
}

/** The `models:` section: the shapes of rules/sources.yml and the rule cards' `sinks`. */
export interface PolicyModels {
  sources?: Record<string, Partial<SourceModel>>;
  sanitizers?: Record<string, Partial<SanitizerModel>>;
  sinks?: CatalogExtension['sinks'];
}

/** A policy file that cannot be used. `reason` names the field; `line` is 1-based when it is known. */
export class PolicyError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly line?: number,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'PolicyError';
  }
}

const DEFAULT_CATEGORY = 'JIT';
const DEFAULT_FAIL_ON: readonly Severity[] = ['CRITICAL', 'HIGH'];
const DEFAULT_TICKET_ON: readonly Severity[] = ['MEDIUM'];

function defaultRetest(category: string): string {
  return `sentinel sast ./src/ --rule ${category}`;
}

/** The spec's CI policy, used when no `sentinel-policy.yml` is found. */
export function defaultPolicy(baseDir: string = process.cwd()): Policy {
  return {
    path: undefined,
    dir: path.resolve(baseDir),
    category: DEFAULT_CATEGORY,
    failOn: [...DEFAULT_FAIL_ON],
    ticketOn: [...DEFAULT_TICKET_ON],
    retest: defaultRetest(DEFAULT_CATEGORY),
    rules: {},
    allowlist: [],
  };
}

/** Walks up from a file or folder to the filesystem root; returns the first policy file's absolute path. */
export function findPolicy(startPath: string): string | undefined {
  const start = path.resolve(startPath);
  let dir = isDirectory(start) ? start : path.dirname(start);
  for (;;) {
    for (const name of POLICY_FILE_NAMES) {
      const candidate = path.join(dir, name);
      if (isPolicyCandidate(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * `findPolicy` for many folders of one scan: each folder is looked at once, and a folder's answer is its own
 * policy file or its parent's answer (a tree of 3,000 files in 1,500 folders cost 36,000 stat calls before).
 */
export function policyFinder(): (dir: string) => string | undefined {
  const memo = new Map<string, string | null>();
  const nearest = (dir: string): string | undefined => {
    const known = memo.get(dir);
    if (known !== undefined) return known ?? undefined;
    let found: string | undefined;
    for (const name of POLICY_FILE_NAMES) {
      const candidate = path.join(dir, name);
      if (isPolicyCandidate(candidate)) {
        found = candidate;
        break;
      }
    }
    const parent = path.dirname(dir);
    if (found === undefined && parent !== dir) found = nearest(parent);
    memo.set(dir, found ?? null);
    return found;
  };
  return (dir: string) => nearest(path.resolve(dir));
}

/**
 * Whether a policy file name is taken at all: a folder, FIFO, socket or dangling link there is the policy the
 * user meant, so loadPolicy refuses it (exit 2) rather than discovery skipping it for the built-in policy.
 */
function isPolicyCandidate(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Loading

/** The policy file as YAML spells it, after schema validation. */
interface RawRulePolicy {
  owner?: string;
  fail_on?: Severity[];
  ticket_on?: Severity[];
  retest?: string;
}
interface RawPolicy {
  category?: string;
  fail_on?: Severity[];
  ticket_on?: Severity[];
  retest?: string;
  rules?: Record<string, RawRulePolicy> | null;
  allowlist?: Array<Omit<AllowEntry, 'index' | 'line'>> | null;
  models?: { sources?: PolicyModels['sources'] | null; sanitizers?: PolicyModels['sanitizers'] | null; sinks?: PolicyModels['sinks'] | null } | null;
}

let compiledSchema: ValidateFunction | undefined;

function policyValidator(): ValidateFunction {
  compiledSchema ??= compileSchema(policySchema, 'policy');
  return compiledSchema;
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a folder',
  ELOOP: 'too many symbolic links',
};

function readPolicyText(file: string): string {
  const tooLarge = (what: string): PolicyError => new PolicyError(file, `is larger than 1 MiB (${what}); a policy is a few lines of YAML`);
  let bytes: Buffer;
  try {
    const fd = fs.openSync(file, OPEN_NONBLOCK);
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) {
        const kind = kindOf(stat);
        throw new PolicyError(file, `is ${kind === 'not a regular file' ? 'not' : `${kind}, not`} a regular file; a policy must be a regular YAML file`);
      }
      if (stat.size > MAX_POLICY_BYTES) throw tooLarge(`${stat.size} bytes`);
      // fstat's size is only a hint (files under /proc say 0, a file may grow): never read past the cap + 1 byte.
      const read = readAtMost(fd, stat.size, MAX_POLICY_BYTES);
      if (!read) throw tooLarge(`more than ${MAX_POLICY_BYTES} bytes read`);
      bytes = read;
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PolicyError(file, `cannot be read: ${READ_ERRORS[code] ?? String((err as Error).message)} (${code})`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const badLine = bytes.subarray(0, firstInvalidUtf8Offset(bytes)).filter((b) => b === 10).length + 1;
    throw new PolicyError(file, `is not UTF-8 text (first bad byte on line ${badLine}); save it as UTF-8`, badLine);
  }
}

/** Finds the first byte where UTF-8 decoding fails, so the error can name a line. */
function firstInvalidUtf8Offset(bytes: Buffer): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let lo = 0;
  let hi = bytes.length;
  // Binary search on prefix validity; a prefix cut inside a valid multi-byte sequence also fails, so
  // the answer may point up to three bytes early, which still lands on the right line.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      decoder.decode(bytes.subarray(0, mid));
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}

/** 1-based line of each offset, by binary search over line starts (policy files may have many nodes). */
function lineLocator(text: string): (offset: number) => number {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

const EMPTY = 'is empty; write at least `category: JIT` or delete the file';

function parseYaml(file: string, text: string): unknown {
  if (text.trim() === '') throw new PolicyError(file, EMPTY);
  let data: unknown;
  try {
    // CORE_SCHEMA keeps `expires: 2026-01-01` a string; maxAliases 0 refuses alias expansion outright,
    // so a billion-laughs document fails on its first `*alias` instead of growing in memory.
    data = yaml.load(text, { filename: path.basename(file), schema: yaml.CORE_SCHEMA, maxAliases: 0 });
  } catch (err) {
    const yamlError = err as yaml.YAMLException;
    const reason = String(yamlError.reason ?? yamlError.message).split('\n')[0];
    const line = yamlError.mark ? yamlError.mark.line + 1 : undefined;
    const where = yamlError.mark ? `line ${yamlError.mark.line + 1}, column ${yamlError.mark.column + 1}` : '';
    if (/input is empty/.test(reason)) {
      throw new PolicyError(file, 'is empty (it holds only comments); write at least `category: JIT` or delete the file');
    }
    if (/maxAliases/.test(reason) && yamlError.mark) {
      // js-yaml marks either the `*` or the name after it, depending on context; point at the `*`.
      const { buffer, position, column } = yamlError.mark;
      const aliasColumn = buffer[position - 1] === '*' ? column : column + 1;
      throw new PolicyError(
        file,
        `uses a YAML alias (*name) at line ${line}, column ${aliasColumn}; policy files may not use aliases, write the value out`,
        line,
      );
    }
    throw new PolicyError(file, `is not valid YAML (${where || 'position unknown'}): ${reason}`, line);
  }
  // A document of just `~` or `---` parses to null: as empty as an empty file.
  if (data === null || data === undefined) throw new PolicyError(file, EMPTY);
  return data;
}

function describeType(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the text '${value}'`;
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

const TYPE_WORDS: Record<string, string> = {
  array: 'a list',
  object: 'a mapping',
  string: 'text',
  null: 'empty',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
};

/** Converts a JSON pointer into the dotted field name a person reads in YAML: `allowlist[2].expires`. */
function fieldName(pointer: string, data: unknown): string {
  if (!pointer) return '';
  let out = '';
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out += `[${key}]`;
      node = node[Number(key)];
    } else {
      out += /^[\w-]+$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}

function valueAt(pointer: string, data: unknown): unknown {
  let node = data;
  for (const raw of pointer ? pointer.slice(1).split('/') : []) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

function joinPointer(pointer: string, key: string): string {
  return `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

interface SchemaProblem {
  pointer: string;
  reason: string;
}

/** Turns the first meaningful ajv error into `<pointer>` + a sentence; branch noise from anyOf is dropped. */
function describeSchemaError(errors: ErrorObject[], data: unknown): SchemaProblem {
  const error = errors.find((e) => !e.schemaPath.includes('/anyOf/') && e.keyword !== 'propertyNames') ?? errors[0];
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  const value = valueAt(error.instancePath, data);
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = String((error.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((parent.properties as object | undefined) ?? {}).join(', ');
      return { pointer: joinPointer(error.instancePath, extra), reason: `is not a known field (known: ${known})` };
    }
    case 'required': {
      const missing = String((error.params as { missingProperty: string }).missingProperty);
      return { pointer: joinPointer(error.instancePath, missing), reason: 'is required but missing' };
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.join(', ');
      const what = typeof parent.title === 'string' ? `a ${parent.title}` : 'an allowed value';
      // A key checked by `propertyNames` (`models.sources: ruby:`): the key is what is wrong, not its value.
      const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
      if (propertyName !== undefined) return { pointer: joinPointer(error.instancePath, propertyName), reason: `'${propertyName}' is not ${what} (${allowed})` };
      return { pointer: error.instancePath, reason: `'${String(value)}' is not ${what} (${allowed})` };
    }
    case 'type': {
      const expected = String((error.params as { type: string | string[] }).type)
        .split(',')
        .filter((t) => t !== 'null')
        .map((t) => TYPE_WORDS[t] ?? t)
        .join(' or ');
      const base = typeof parent.patternErrorMessage === 'string' ? parent.patternErrorMessage : `must be ${expected}`;
      const listOf = typeof parent.title === 'string' && expected === 'a list' ? ` of ${parent.title.replace(/^list of /, '')}` : '';
      return { pointer: error.instancePath, reason: `${base}${listOf}, not ${describeType(value)}` };
    }
    case 'pattern': {
      const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
      const message = typeof parent.patternErrorMessage === 'string' ? parent.patternErrorMessage : error.message ?? 'is malformed';
      if (propertyName !== undefined) return { pointer: joinPointer(error.instancePath, propertyName), reason: message };
      return { pointer: error.instancePath, reason: `${message} (found '${String(value)}')` };
    }
    case 'uniqueItems': {
      const { i, j } = error.params as { i: number; j: number };
      const items = value as unknown[];
      return { pointer: `${error.instancePath}/${i}`, reason: `'${String(items[i])}' is listed twice (also at [${j}])` };
    }
    case 'anyOf':
      return {
        pointer: error.instancePath,
        reason: typeof parent.errorMessage === 'string' ? parent.errorMessage : error.message ?? 'is invalid',
      };
    default:
      return { pointer: error.instancePath, reason: error.message ?? error.keyword };
  }
}

/**
 * Maps each JSON pointer in the document to the line where it is written (for a mapping value: the
 * line of its key), from js-yaml's event stream. Used only for error and warning locations.
 */
function lineIndex(text: string): Map<string, number> {
  // `pointer` is undefined under a complex (collection) mapping key: such nodes have no JSON pointer.
  type Frame =
    | { kind: 'document' }
    | { kind: 'sequence'; pointer: string | undefined; index: number }
    | { kind: 'mapping'; pointer: string | undefined; key: string | undefined; keyOffset: number; expectKey: boolean };
  let events: yaml.Event[];
  try {
    events = yaml.parseEvents(text, {});
  } catch {
    return new Map();
  }
  const offsets = new Map<string, number>();
  const stack: Frame[] = [];
  /** Records where the node starting at `start` lives and returns its pointer. */
  const place = (start: number, key: string | undefined): string | undefined => {
    const top = stack[stack.length - 1];
    let pointer: string | undefined;
    let offset = start;
    if (!top || top.kind === 'document') {
      pointer = '';
    } else if (top.kind === 'sequence') {
      pointer = top.pointer === undefined ? undefined : `${top.pointer}/${top.index}`;
      top.index++;
    } else if (top.expectKey) {
      top.expectKey = false;
      top.key = key;
      top.keyOffset = start;
      return undefined;
    } else {
      top.expectKey = true;
      pointer = top.pointer === undefined || top.key === undefined ? undefined : joinPointer(top.pointer, top.key);
      offset = top.keyOffset;
    }
    if (pointer !== undefined && offset >= 0) offsets.set(pointer, offset);
    return pointer;
  };
  const startOf = (e: { anchorStart: number; tagStart: number }, own: number): number => {
    const known = [e.anchorStart, e.tagStart, own].filter((o) => o >= 0);
    return known.length ? Math.min(...known) : -1;
  };
  for (const event of events) {
    switch (event.type) {
      case yaml.EVENT_ID.DOCUMENT:
        stack.push({ kind: 'document' });
        break;
      case yaml.EVENT_ID.SCALAR:
        place(startOf(event, event.valueStart), yaml.getScalarValue(text, event));
        break;
      case yaml.EVENT_ID.ALIAS:
        place(event.anchorStart - 1, undefined);
        break;
      case yaml.EVENT_ID.MAPPING:
      case yaml.EVENT_ID.SEQUENCE: {
        const pointer = place(startOf(event, event.start), undefined);
        stack.push(
          event.type === yaml.EVENT_ID.MAPPING
            ? { kind: 'mapping', pointer, key: undefined, keyOffset: -1, expectKey: true }
            : { kind: 'sequence', pointer, index: 0 },
        );
        break;
      }
      case yaml.EVENT_ID.POP:
        stack.pop();
        break;
    }
  }
  const lineAt = lineLocator(text);
  const lines = new Map<string, number>();
  for (const [pointer, offset] of offsets) lines.set(pointer, lineAt(offset));
  return lines;
}

/** The line of the nearest written ancestor of `pointer`. */
function lineOf(lines: Map<string, number>, pointer: string): number | undefined {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
    const line = lines.get(p);
    if (line !== undefined) return line;
    if (p === '') return undefined;
  }
}

function isCalendarDate(text: string): boolean {
  const [y, m, d] = text.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Reads, parses and validates a policy file; every problem is a PolicyError naming the file and field. */
export function loadPolicy(file: string, catalog?: Catalog): Policy {
  const text = readPolicyText(file);
  const data = parseYaml(file, text);
  let lines: Map<string, number> | undefined;
  const fail = (pointer: string, reason: string): never => {
    lines ??= lineIndex(text);
    const field = fieldName(pointer, data);
    throw new PolicyError(file, field ? `${field}: ${reason}` : reason, lineOf(lines, pointer));
  };

  if (typeof data !== 'object' || Array.isArray(data)) {
    const known = Object.keys(policySchema.properties).join(', ');
    fail('', `must be a mapping of policy fields (${known}), not ${describeType(data)}`);
  }
  const validate = policyValidator();
  if (!validate(data)) {
    const problem = describeSchemaError(validate.errors ?? [], data);
    fail(problem.pointer, problem.reason);
  }
  const raw = data as RawPolicy;

  const rulesCatalog = catalog ?? loadCatalog();
  const ruleIds = rulesCatalog.rules.map((r) => r.id);
  const categories = [...new Set(rulesCatalog.rules.map((r) => r.category))];
  if (raw.category !== undefined && !categories.includes(raw.category)) {
    fail('/category', `'${raw.category}' is not a rule category in the catalog (${categories.join(', ')})`);
  }
  for (const id of Object.keys(raw.rules ?? {})) {
    if (!rulesCatalog.byId.has(id)) {
      fail(joinPointer('/rules', id), `is not a rule in the catalog (known: ${ruleIds.join(', ')})`);
    }
  }
  (raw.allowlist ?? []).forEach((entry, i) => {
    const at = `/allowlist/${i}`;
    if (entry.rule !== '*' && !rulesCatalog.byId.has(entry.rule) && !categories.includes(entry.rule)) {
      fail(`${at}/rule`, `'${entry.rule}' is not a rule ID, a category or * (rules: ${ruleIds.join(', ')}; categories: ${categories.join(', ')})`);
    }
    if (entry.path !== undefined) {
      if (entry.path.includes('\\')) fail(`${at}/path`, `'${entry.path}' uses backslashes; write globs with forward slashes`);
      if (path.posix.isAbsolute(entry.path) || /^[A-Za-z]:/.test(entry.path)) {
        fail(`${at}/path`, `'${entry.path}' is absolute; write it relative to the policy file's folder`);
      }
      if (entry.path.split('/').includes('..')) {
        fail(`${at}/path`, `'${entry.path}' leaves the policy file's folder; move the policy up or the entry into another policy`);
      }
    }
    if (entry.expires !== undefined && !isCalendarDate(entry.expires)) {
      fail(`${at}/expires`, `'${entry.expires}' is not a real date`);
    }
  });

  const models = raw.models ? withoutUndefined({ sources: raw.models.sources ?? undefined, sanitizers: raw.models.sanitizers ?? undefined, sinks: raw.models.sinks ?? undefined }) : undefined;
  if (models) {
    // The shipped schemas decide what a model entry needs (rule.schema.json sinks, sources.schema.json).
    const { errors } = extendCatalog(rulesCatalog, catalogExtensionOf({ models }));
    if (errors.length > 0) fail('/models', errors[0]);
  }

  const category = raw.category ?? DEFAULT_CATEGORY;
  const absolute = path.resolve(file);
  const rules: Record<string, RulePolicy> = {};
  for (const [id, rule] of Object.entries(raw.rules ?? {})) {
    rules[id] = withoutUndefined({ owner: rule.owner, failOn: rule.fail_on, ticketOn: rule.ticket_on, retest: rule.retest });
  }
  lines ??= lineIndex(text);
  const lineMap = lines;
  const allowlist = (raw.allowlist ?? []).map((entry, index): AllowEntry =>
    withoutUndefined({
      rule: entry.rule,
      path: entry.path,
      fingerprint: entry.fingerprint,
      reason: entry.reason.trim(),
      expires: entry.expires,
      index,
      line: lineMap.get(`/allowlist/${index}`),
    }),
  );
  return {
    path: absolute,
    dir: path.dirname(absolute),
    category,
    failOn: raw.fail_on ?? [...DEFAULT_FAIL_ON],
    ticketOn: raw.ticket_on ?? [...DEFAULT_TICKET_ON],
    retest: raw.retest ?? defaultRetest(category),
    rules,
    allowlist,
    ...(models && Object.keys(models).length > 0 ? { models } : {}),
  };
}

/** The catalog extension a policy's `models:` section asks for (empty for a policy without one). */
export function catalogExtensionOf(policy: Pick<Policy, 'models'>): CatalogExtension {
  const models = policy.models;
  if (!models) return {};
  const sources: Record<string, Partial<SourceModel>> = {};
  for (const [family, model] of Object.entries(models.sources ?? {})) sources[family] = { ...model };
  for (const [family, sanitizers] of Object.entries(models.sanitizers ?? {})) {
    sources[family] = { ...sources[family], sanitizers: { casts: sanitizers?.casts ?? [], guards: sanitizers?.guards ?? [] } };
  }
  return {
    ...(models.sinks?.length ? { sinks: models.sinks } : {}),
    ...(Object.keys(sources).length > 0 ? { sources } : {}),
  };
}

const policyCatalogs = new WeakMap<Policy, { base: Catalog; catalog: Catalog }>();

/**
 * The catalog to analyse a file under `policy` with: `base` plus the policy's models. Memoised per policy
 * and base, so a scan that applies one policy to many files extends the catalog once.
 */
export function catalogForPolicy(base: Catalog, policy: Policy): Catalog {
  if (!policy.models) return base;
  const cached = policyCatalogs.get(policy);
  if (cached && cached.base === base) return cached.catalog;
  const { catalog } = extendCatalog(base, catalogExtensionOf(policy));
  policyCatalogs.set(policy, { base, catalog });
  return catalog;
}

/** Keeps objects comparable with deepEqual: an absent field is absent, not `undefined`. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// ---------------------------------------------------------------------------------------------------
// Applying

export interface ApplyPolicyOptions {
  /** "Today" for allowlist expiry; tests pin it. */
  now?: Date;
  /** The folder finding paths are relative to (the scan's baseDir); defaults to the working directory. */
  baseDir?: string;
}

/** True from the first moment (UTC) of the expiry date on. */
export function isExpired(expires: string, now: Date): boolean {
  const [y, m, d] = expires.split('-').map(Number);
  return now.getTime() >= Date.UTC(y, m - 1, d);
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/** How reports name the policy file: relative to the scan's baseDir when it sits inside, else absolute. */
function displayPath(policyPath: string, baseDir: string): string {
  const rel = path.relative(baseDir, policyPath);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? toPosix(rel) : toPosix(policyPath);
}

function describeEntry(entry: AllowEntry): string {
  const parts = [entry.rule];
  if (entry.path !== undefined) parts.push(entry.path);
  if (entry.fingerprint !== undefined) parts.push(`fingerprint ${entry.fingerprint}`);
  return `allowlist[${entry.index}] (${parts.join(', ')})`;
}

/**
 * Applies the policy to findings in place: owner and retest overrides, allowlist suppression and the
 * decision. Inline suppressions set by the scanner are kept. Returns one warning per expired allowlist
 * entry that would otherwise have suppressed a finding.
 */
export function applyPolicy(findings: Finding[], policy: Policy, opts: ApplyPolicyOptions = {}): ScanWarning[] {
  const now = opts.now ?? new Date();
  const baseDir = path.resolve(opts.baseDir ?? process.cwd());
  const policyName = policy.path ? displayPath(policy.path, baseDir) : '';
  const entries = policy.allowlist.map((entry) => ({
    entry,
    expired: entry.expires !== undefined && isExpired(entry.expires, now),
    matchesPath: entry.path === undefined ? undefined : picomatch(entry.path, { dot: true }),
  }));
  const staleEntriesHit = new Set<number>();

  for (const finding of findings) {
    const override = policy.rules[finding.ruleId];
    finding.owner = override?.owner ?? finding.owner;
    finding.retest = override?.retest ?? policy.retest;
    // A policy suppression from an earlier run is recomputed, so applying a changed policy again is safe.
    if (finding.suppression?.kind === 'policy') delete finding.suppression;

    if (!finding.suppression) {
      const fromPolicyDir = path.relative(policy.dir, path.resolve(baseDir, finding.evidence.path));
      const insidePolicyDir = !fromPolicyDir.startsWith('..') && !path.isAbsolute(fromPolicyDir);
      const relPath = toPosix(fromPolicyDir);
      const matching = entries.filter(({ entry, matchesPath }) => {
        if (entry.rule !== '*' && entry.rule !== finding.ruleId && entry.rule !== finding.category) return false;
        if (matchesPath && !(insidePolicyDir && matchesPath(relPath))) return false;
        return entry.fingerprint === undefined || entry.fingerprint === finding.fingerprint;
      });
      const active = matching.find((m) => !m.expired);
      if (active) {
        const { entry } = active;
        finding.suppression = withoutUndefined({
          kind: 'policy' as const,
          reason: entry.reason,
          source: `${policyName}#allowlist[${entry.index}]`,
          expires: entry.expires,
        });
      } else {
        matching.forEach((m) => staleEntriesHit.add(m.entry.index));
      }
    }

    const failOn = override?.failOn ?? policy.failOn;
    const ticketOn = override?.ticketOn ?? policy.ticketOn;
    finding.decision = finding.suppression
      ? 'suppressed'
      : failOn.includes(finding.severity)
        ? 'block'
        : ticketOn.includes(finding.severity)
          ? 'ticket'
          : 'report';
  }

  return entries
    .filter(({ entry }) => staleEntriesHit.has(entry.index))
    .map(({ entry }) =>
      withoutUndefined({
        code: 'policy-expired-allowlist' as const,
        path: policyName,
        message: `${describeEntry(entry)} expired on ${entry.expires} and no longer suppresses; renew it with a reason or fix the finding`,
        line: entry.line,
      }),
    );
}

/** Counts for the report footer and the exit code; reads the decisions applyPolicy wrote. */
export function summarize(findings: Finding[], policy: Policy): ReportSummary {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let blocking = 0;
  let tickets = 0;
  let suppressed = 0;
  for (const finding of findings) {
    if (finding.decision === 'suppressed') {
      suppressed++;
      continue;
    }
    bySeverity[finding.severity]++;
    if (finding.decision === 'block') blocking++;
    else if (finding.decision === 'ticket') tickets++;
  }
  return {
    decision: blocking > 0 ? 'blocked' : tickets > 0 ? 'tickets' : 'clean',
    bySeverity,
    blocking,
    tickets,
    suppressed,
    retest: policy.retest,
  };
}

/** The spec's policy file with comments, for `sentinel init` and editor templates. Loads to the default policy plus the spec's rule example. */
export function policyTemplate(): string {
  // The template is data shipped beside the rule cards, so that the editor client can offer it too.
  return fs.readFileSync(path.join(rulesDir(), 'sentinel-policy.template.yml'), 'utf8');
}
