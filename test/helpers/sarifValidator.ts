// Runs Microsoft's SARIF validator (@microsoft/sarif-multitool) with the SARIF and GitHub rule sets on a
// log and returns its findings as readable strings, so tests can assert "no errors" and show why not.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

interface ValidatorRule {
  id: string;
  defaultConfiguration?: { level?: string };
  messageStrings?: Record<string, { text: string }>;
}

interface ValidatorResult {
  ruleId: string;
  ruleIndex?: number;
  level?: string;
  message: { id?: string; text?: string; arguments?: string[] };
  locations?: { physicalLocation?: { region?: { startLine?: number; startColumn?: number } } }[];
}

interface ValidatorNotification {
  level?: string;
  message: { text?: string };
}

interface ValidatorLog {
  runs: {
    tool: { driver: { rules?: ValidatorRule[] } };
    results?: ValidatorResult[];
    invocations?: {
      toolExecutionNotifications?: ValidatorNotification[];
      toolConfigurationNotifications?: ValidatorNotification[];
    }[];
  }[];
}

function multitoolPath(): string {
  // The package exports the path of the platform binary; npm may unpack it without the execute bit.
  const bin = createRequire(__filename)('@microsoft/sarif-multitool') as string;
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    fs.chmodSync(bin, 0o755);
  }
  return bin;
}

/** The validator writes message ids plus arguments; the texts live in its own rule metadata. */
function render(result: ValidatorResult, rules: ValidatorRule[]): string {
  const rule = result.ruleIndex !== undefined ? rules[result.ruleIndex] : rules.find((r) => r.id === result.ruleId);
  const template = result.message.text ?? (result.message.id ? rule?.messageStrings?.[result.message.id]?.text : undefined);
  const args = result.message.arguments ?? [];
  const text = template
    ? template.replace(/\{(\d+)\}/g, (_m, i: string) => args[Number(i)] ?? '').replace(/\{\{/g, '{').replace(/\}\}/g, '}')
    : `${result.message.id ?? ''} ${args.join(', ')}`;
  const region = result.locations?.[0]?.physicalLocation?.region;
  const where = region ? ` (at ${region.startLine ?? '?'}:${region.startColumn ?? '?'})` : '';
  return `${result.ruleId}: ${text}${where}`;
}

/** Validates `sarif` with `--rule-kind Sarif;Gh` and sorts what the validator reports into errors and warnings. */
export function sarifErrors(sarif: object): { errors: string[]; warnings: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-sarif-'));
  try {
    const file = path.join(dir, 'input.sarif');
    const out = path.join(dir, 'validation.sarif');
    fs.writeFileSync(file, JSON.stringify(sarif, null, 2));
    // It exits 0 even when the log has errors, so the verdict comes from its output log, not the exit code.
    execFileSync(multitoolPath(), ['validate', file, '-o', out, '--log', 'ForceOverwrite', '--rule-kind', 'Sarif;Gh'], {
      stdio: 'pipe',
      timeout: 60_000,
    });
    if (!fs.existsSync(out)) throw new Error('the SARIF validator wrote no output log');
    const log = JSON.parse(fs.readFileSync(out, 'utf8')) as ValidatorLog;
    const errors: string[] = [];
    const warnings: string[] = [];
    for (const run of log.runs) {
      const rules = run.tool.driver.rules ?? [];
      for (const result of run.results ?? []) {
        const rule = result.ruleIndex !== undefined ? rules[result.ruleIndex] : rules.find((r) => r.id === result.ruleId);
        // A result without a level takes its rule's default level, and SARIF's default is "warning".
        const level = result.level ?? rule?.defaultConfiguration?.level ?? 'warning';
        if (level === 'error') errors.push(render(result, rules));
        else if (level === 'warning') warnings.push(render(result, rules));
      }
      // A log the validator cannot even load (bad JSON, wrong schema) shows up as an error notification.
      for (const inv of run.invocations ?? []) {
        for (const n of [...(inv.toolExecutionNotifications ?? []), ...(inv.toolConfigurationNotifications ?? [])]) {
          if (n.level === 'error') errors.push(`validator: ${n.message.text ?? ''}`);
        }
      }
    }
    return { errors, warnings };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
