// `sentinel`: the CI gate and retest command. Parses arguments, runs the engine, writes text, JSON or SARIF
// and exits 0 (clean or tickets only), 1 (release gate blocked) or 2 (usage or configuration error).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PolicyError } from '../engine/policy';
import { runLanguageServer } from '../lsp/main';
import { CatalogError, loadCatalog } from '../engine/rules/catalog';
import { DEFAULT_MAX_FILE_BYTES, ENGINE_VERSION, scanPaths, UsageError } from '../engine/scanner';
import { toJson } from './reporters/json';
import { toSarifString } from './reporters/sarif';
import { toText } from './reporters/text';

export const EXIT_CLEAN = 0;
export const EXIT_BLOCKED = 1;
export const EXIT_USAGE = 2;

const HELP = `Sentinel ${ENGINE_VERSION}: guards AI workloads against dynamic-code execution.

Usage:
  sentinel sast <paths...> [--rule JIT] [--format text|json|sarif] [--output FILE] [--policy FILE]
  sentinel rules [--format text|json]
  sentinel lsp --stdio
  sentinel --help | --version

sast options:
  -r, --rule <sel>         Rule ID or category to run (repeatable, or comma-separated). Default: all.
  -f, --format <fmt>       text (default), json or sarif.
  -o, --output <file>      Write the report to a file instead of standard output.
  -p, --policy <file>      sentinel-policy.yml to apply. Default: the nearest one above the first path,
                           else the built-in policy (fail_on CRITICAL, HIGH; ticket_on MEDIUM).
      --max-file-size <n>  Skip files over n bytes with a warning (default ${DEFAULT_MAX_FILE_BYTES}).
      --color / --no-color Force ANSI colour in text output on or off (default: on for a terminal).

Exit codes:
  0  clean, or findings only at ticket_on or report level
  1  release gate blocked: an unsuppressed finding at a fail_on severity
  2  usage or configuration error (unknown option or rule, missing path, broken policy or rule catalog)
  3  Sentinel itself failed (a bug: please report the message)
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTty: boolean;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTty: !!process.stdout.isTTY,
};

function usage(io: CliIo, message: string): number {
  io.stderr(`sentinel: ${message}\nRun 'sentinel --help' for usage.\n`);
  return EXIT_USAGE;
}

async function runSast(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        rule: { type: 'string', short: 'r', multiple: true },
        format: { type: 'string', short: 'f', default: 'text' },
        output: { type: 'string', short: 'o' },
        policy: { type: 'string', short: 'p' },
        'max-file-size': { type: 'string' },
        color: { type: 'boolean' },
        'no-color': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(HELP);
    return EXIT_CLEAN;
  }
  const format = values.format ?? 'text';
  if (!['text', 'json', 'sarif'].includes(format)) return usage(io, `unknown format '${format}' (text, json or sarif)`);
  if (positionals.length === 0) return usage(io, 'sast needs at least one path to scan');
  for (const p of positionals) {
    if (!fs.existsSync(p)) return usage(io, `path '${p}' does not exist`);
  }
  let maxFileBytes = DEFAULT_MAX_FILE_BYTES;
  if (values['max-file-size'] !== undefined) {
    maxFileBytes = Number(values['max-file-size']);
    if (!Number.isInteger(maxFileBytes) || maxFileBytes <= 0) return usage(io, `--max-file-size needs a positive whole number of bytes, not '${values['max-file-size']}'`);
  }
  if (values.policy !== undefined && !fs.existsSync(values.policy)) return usage(io, `policy file '${values.policy}' does not exist`);

  const catalog = loadCatalog();
  const report = await scanPaths(positionals, {
    catalog,
    rules: values.rule ?? [],
    policyPath: values.policy,
    maxFileBytes,
  });
  const color = values['no-color'] ? false : values.color ? true : io.isTty && !values.output && !process.env.NO_COLOR;
  const rendered =
    format === 'json' ? toJson(report) : format === 'sarif' ? toSarifString(report, catalog) : toText(report, { color });
  if (values.output) {
    const out = path.resolve(values.output);
    try {
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, rendered);
    } catch (err) {
      return usage(io, `cannot write the report to '${values.output}': ${(err as Error).message}`);
    }
    const s = report.summary;
    io.stderr(
      `sentinel: ${report.findings.length} finding(s) in ${report.filesScanned} file(s); gate ${s.decision}` +
        ` (${s.blocking} blocking, ${s.tickets} ticket, ${s.suppressed} suppressed); report written to ${values.output}\n`,
    );
  } else {
    io.stdout(rendered.endsWith('\n') ? rendered : `${rendered}\n`);
  }
  return report.summary.decision === 'blocked' ? EXIT_BLOCKED : EXIT_CLEAN;
}

function runRules(args: string[], io: CliIo): number {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { format: { type: 'string', short: 'f', default: 'text' } } }));
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const catalog = loadCatalog();
  if (values.format === 'json') {
    io.stdout(`${JSON.stringify(catalog.rules, null, 2)}\n`);
    return EXIT_CLEAN;
  }
  if (values.format !== 'text') return usage(io, `unknown format '${values.format}' (text or json)`);
  const lines: string[] = [];
  for (const r of catalog.rules) {
    lines.push(`${r.id} ${r.severity}`, r.title, r.fixHint);
    lines.push(`  category ${r.category} · ${r.cwe} · ${r.owaspLlm} · false-positive risk ${r.fpRisk}`);
    lines.push(`  owner: ${r.owner}`, `  release decision: ${r.releaseDecision}`, `  retest: ${r.retest}`, `  docs: ${r.helpUri}`, '');
  }
  io.stdout(lines.join('\n'));
  return EXIT_CLEAN;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.stdout(HELP);
        return command === undefined ? EXIT_USAGE : EXIT_CLEAN;
      case '-v':
      case '--version':
        io.stdout(`${ENGINE_VERSION}\n`);
        return EXIT_CLEAN;
      case 'sast':
        return await runSast(rest, io);
      case 'rules':
        return runRules(rest, io);
      case 'lsp':
        if (!rest.some((a) => ['--stdio', '--node-ipc'].includes(a) || a.startsWith('--socket') || a.startsWith('--pipe'))) {
          return usage(io, 'lsp needs a transport: --stdio (or --node-ipc, --socket=N, --pipe=NAME)');
        }
        runLanguageServer();
        // The connection owns the process from here; it exits when the client sends `exit`.
        return new Promise<number>(() => undefined);
      default:
        return usage(io, `unknown command '${command}' (sast, rules, lsp)`);
    }
  } catch (err) {
    if (err instanceof PolicyError || err instanceof CatalogError || err instanceof UsageError) {
      io.stderr(`sentinel: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

/** Entry for the `sentinel` binary: runs main and sets the exit code; 3 means Sentinel itself failed. */
export function run(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`sentinel: internal error: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 3;
    },
  );
}

if (require.main === module) run();
