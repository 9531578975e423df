// The settings the server reads through `workspace/configuration` (section `sentinel`), with their defaults.
// package.json's `contributes.configuration` must list the same keys and defaults (a test compares them).
export type MinimumSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFO';

export interface SentinelSettings {
  /** Rule IDs or categories to run. */
  rules: string[];
  /** Findings below this severity are not shown as diagnostics. */
  minimumSeverity: MinimumSeverity;
  /** Globs (as in .gitignore) left out of workspace scans and diagnostics. */
  exclude: string[];
  /** Files over this many bytes are not analysed. */
  maxFileSize: number;
  /** A policy file to use instead of the nearest sentinel-policy.yml (absolute or workspace-relative). */
  policyPath: string;
  /** Show findings suppressed by an allow comment or the policy as hints. */
  showSuppressed: boolean;
  /** In-house dynamic-code APIs: `{ rule, languages, api | method, args, keywords? }`, as in the rule cards. */
  extraSinks: unknown[];
  /** In-house sources by language family: `{ python: { calls: [{ api, note }], attributes: [...] } }`. */
  extraSources: Record<string, unknown>;
}

export const DEFAULT_SETTINGS: SentinelSettings = {
  rules: ['JIT'],
  minimumSeverity: 'INFO',
  exclude: [],
  maxFileSize: 5 * 1024 * 1024,
  policyPath: '',
  showSuppressed: true,
  extraSinks: [],
  extraSources: {},
};

const SEVERITY_ORDER: MinimumSeverity[] = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/** Settings from the client merged over the defaults; wrong types fall back to the default for that key. */
export function normaliseSettings(raw: unknown): SentinelSettings {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const strings = (v: unknown, d: string[]) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : d);
  return {
    rules: strings(r.rules, DEFAULT_SETTINGS.rules),
    minimumSeverity: SEVERITY_ORDER.includes(r.minimumSeverity as MinimumSeverity) ? (r.minimumSeverity as MinimumSeverity) : DEFAULT_SETTINGS.minimumSeverity,
    exclude: strings(r.exclude, DEFAULT_SETTINGS.exclude),
    maxFileSize: typeof r.maxFileSize === 'number' && r.maxFileSize > 0 ? r.maxFileSize : DEFAULT_SETTINGS.maxFileSize,
    policyPath: typeof r.policyPath === 'string' ? r.policyPath : DEFAULT_SETTINGS.policyPath,
    showSuppressed: typeof r.showSuppressed === 'boolean' ? r.showSuppressed : DEFAULT_SETTINGS.showSuppressed,
    extraSinks: Array.isArray(r.extraSinks) ? r.extraSinks : DEFAULT_SETTINGS.extraSinks,
    extraSources: r.extraSources && typeof r.extraSources === 'object' && !Array.isArray(r.extraSources) ? (r.extraSources as Record<string, unknown>) : DEFAULT_SETTINGS.extraSources,
  };
}

export function meetsMinimum(severity: MinimumSeverity, minimum: MinimumSeverity): boolean {
  return SEVERITY_ORDER.indexOf(severity) >= SEVERITY_ORDER.indexOf(minimum);
}
