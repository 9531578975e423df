// The argument handling `sast` and `merge` share: the options both take, a parse error or --help, and the
// --format/--report outputs, so the two commands cannot drift apart on what those mean.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type CliIo, EXIT_CLEAN, type Format, HELP, parseOutputs, usage } from './main';

/** The options of every command that writes a report; a command adds its own. */
export const REPORT_OPTIONS = {
  format: { type: 'string', short: 'f', default: 'text' },
  output: { type: 'string', short: 'o' },
  report: { type: 'string', multiple: true },
  policy: { type: 'string', short: 'p' },
  'fail-on': { type: 'string' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type CommandConfig<O extends OptionsConfig> = { args: string[]; allowPositionals: true; options: O & typeof REPORT_OPTIONS };

/** A command line that parsed: its option values, positionals, and the main and extra report formats. */
export interface CommandArgs<O extends OptionsConfig> {
  values: ReturnType<typeof parseArgs<CommandConfig<O>>>['values'];
  positionals: string[];
  format: Format;
  extra: { format: Format; file: string }[];
}

/**
 * Parses `args` with REPORT_OPTIONS and the command's own `options`. Returns the exit code when the command is
 * done already: a parse error or a bad --format/--report (usage on stderr, 2) or --help (the usage, 0).
 */
export function parseCommandArgs<const O extends OptionsConfig>(args: string[], options: O, io: CliIo): CommandArgs<O> | number {
  let parsed;
  try {
    parsed = parseArgs<CommandConfig<O>>({ args, allowPositionals: true, options: { ...options, ...REPORT_OPTIONS } });
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const { values, positionals } = parsed;
  // TypeScript cannot see REPORT_OPTIONS' values through the generic `O`; they are there whatever O adds.
  const shared = values as { help?: boolean; format?: string; report?: string[] };
  if (shared.help) {
    io.stdout(HELP);
    return EXIT_CLEAN;
  }
  const outputs = parseOutputs(shared.format, shared.report);
  if (typeof outputs === 'string') return usage(io, outputs);
  return { values, positionals, format: outputs.format, extra: outputs.extra };
}
