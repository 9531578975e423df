// Runs a composite GitHub Action's steps locally as the runner would: each `run` step through
// `bash --noprofile --norc -eo pipefail`, with GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and RUNNER_TEMP pointed at temp
// files, `${{ … }}` expressions resolved from inputs, github context and step outputs (anything else throws).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';

interface ActionStep {
  id?: string;
  name?: string;
  run?: string;
  uses?: string;
  shell?: string;
  if?: string;
  env?: Record<string, string>;
  'working-directory'?: string;
}

interface ActionFile {
  inputs?: Record<string, { default?: string; required?: boolean }>;
  outputs?: Record<string, { value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

export interface ActionRunOptions {
  /** The checked-out repository (GITHUB_WORKSPACE), where steps run by default. */
  workspace: string;
  inputs?: Record<string, string>;
  /** github context values the action reads (base_ref, …). */
  github?: Record<string, string>;
  env?: Record<string, string>;
}

export interface ActionRun {
  /** Exit code of the first failing step, or 0. */
  code: number;
  stdout: string;
  stderr: string;
  /** The action's outputs, resolved from its steps' outputs. */
  outputs: Record<string, string>;
  /** Everything the steps appended to their job summaries. */
  summary: string;
  steps: { name: string; code: number }[];
}

/** GITHUB_OUTPUT lines: `name=value` or `name<<DELIMITER` … `DELIMITER`. */
function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      out[heredoc[1]!] = value.join('\n');
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

/** Runs `action.yml` (composite) in `options.workspace` and reports what a workflow run would show. */
export function runCompositeAction(actionFile: string, options: ActionRunOptions): ActionRun {
  const action = yaml.load(fs.readFileSync(actionFile, 'utf8')) as ActionFile;
  if (action.runs.using !== 'composite') throw new Error(`${actionFile} is not a composite action`);
  const actionPath = path.dirname(path.resolve(actionFile));
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'sentinel-runner-'));
  const stepOutputs: Record<string, Record<string, string>> = {};
  const github: Record<string, string> = { action_path: actionPath, workspace: options.workspace, base_ref: '', ...options.github };

  const evaluate = (text: string): string =>
    text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, expr: string) => {
      let m = /^inputs\.([\w-]+)$/.exec(expr);
      if (m) {
        const name = m[1]!;
        if (!(name in (action.inputs ?? {}))) throw new Error(`the action reads an undeclared input '${name}'`);
        return options.inputs?.[name] ?? action.inputs![name]!.default ?? '';
      }
      m = /^github\.(\w+)$/.exec(expr);
      if (m && m[1]! in github) return github[m[1]!]!;
      m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
      if (m) return stepOutputs[m[1]!]?.[m[2]!] ?? '';
      throw new Error(`this runner cannot evaluate \${{ ${expr} }}`);
    });

  const result: ActionRun = { code: 0, stdout: '', stderr: '', outputs: {}, summary: '', steps: [] };
  try {
    for (const [index, step] of action.runs.steps.entries()) {
      const name = step.name ?? step.id ?? `step ${index + 1}`;
      if (step.uses !== undefined) throw new Error(`step '${name}' uses another action; this runner runs only 'run' steps`);
      if (step.shell !== 'bash') throw new Error(`step '${name}' needs shell: bash`);
      if (step.if !== undefined) throw new Error(`step '${name}' has a condition this runner does not evaluate`);
      const outputFile = path.join(temp, `output-${index}`);
      const summaryFile = path.join(temp, `summary-${index}`);
      const script = path.join(temp, `step-${index}.sh`);
      fs.writeFileSync(outputFile, '');
      fs.writeFileSync(summaryFile, '');
      fs.writeFileSync(script, evaluate(step.run ?? ''));
      const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, evaluate(String(v))]));
      const cwd = path.resolve(options.workspace, evaluate(step['working-directory'] ?? '.'));
      const run = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
        cwd,
        encoding: 'utf8',
        timeout: 120_000,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? temp,
          LANG: 'C.UTF-8',
          CI: 'true',
          GITHUB_ACTIONS: 'true',
          GITHUB_WORKSPACE: options.workspace,
          GITHUB_ACTION_PATH: actionPath,
          GITHUB_BASE_REF: github.base_ref ?? '',
          GITHUB_OUTPUT: outputFile,
          GITHUB_STEP_SUMMARY: summaryFile,
          RUNNER_TEMP: temp,
          ...options.env,
          ...stepEnv,
        },
      });
      result.stdout += run.stdout;
      result.stderr += run.stderr;
      result.summary += fs.readFileSync(summaryFile, 'utf8');
      if (step.id) stepOutputs[step.id] = parseOutputFile(fs.readFileSync(outputFile, 'utf8'));
      const code = run.status ?? 1;
      result.steps.push({ name, code });
      if (code !== 0) {
        result.code = code;
        break;
      }
    }
    for (const [key, output] of Object.entries(action.outputs ?? {})) result.outputs[key] = evaluate(output.value);
    return result;
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
}
