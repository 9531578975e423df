// `npm run score -- <folder>...`: scans annotated folders (`expect:` / `ok:` comments, as in fixtures/) and
// prints precision and recall per rule and per rule and language, then every miss and extra. With
// `--min 0.9` it exits 1 when any rule falls below that bar, for scoring a held-out set written apart from
// this repo. Runs from the sources (tsx), so no build is needed.
import * as path from 'node:path';
import { scanPaths } from '../server/src/engine/scanner';
import { type RuleScore, compare, expectationsUnder, failureReport, scoreLines } from './helpers/scoring';

async function main(argv: string[]): Promise<number> {
  const minAt = argv.indexOf('--min');
  const min = minAt >= 0 ? Number(argv[minAt + 1]) : undefined;
  const dirs = argv.filter((_, i) => minAt < 0 || (i !== minAt && i !== minAt + 1));
  if (dirs.length === 0 || (min !== undefined && !(min >= 0 && min <= 1))) {
    console.error('usage: npm run score -- <annotated folder>... [--min 0.9]');
    return 2;
  }
  const total = new Map<string, RuleScore>();
  for (const dir of dirs.map((d) => path.resolve(d))) {
    const comparison = compare(await scanPaths([dir]), expectationsUnder(dir));
    console.log(`${dir}\n${scoreLines(comparison.scores).map((l) => `  ${l}`).join('\n')}`);
    const failure = failureReport(dir, comparison);
    if (failure) console.log(failure.split('\n').slice(0, failure.split('\n').indexOf('per rule:')).join('\n'));
    for (const [key, s] of comparison.scores) {
      const t = total.get(key) ?? { truePositives: 0, missed: 0, extra: 0, oks: 0, oksQuiet: 0 };
      for (const k of Object.keys(s) as (keyof RuleScore)[]) t[k] += s[k];
      total.set(key, t);
    }
  }
  if (dirs.length > 1) console.log(`all folders\n${scoreLines(total).map((l) => `  ${l}`).join('\n')}`);
  if (min === undefined) return 0;
  const below = [...total]
    .filter(([key]) => !key.includes(' '))
    .filter(([, s]) => {
      const p = s.truePositives + s.extra === 0 ? 1 : s.truePositives / (s.truePositives + s.extra);
      const r = s.truePositives + s.missed === 0 ? 1 : s.truePositives / (s.truePositives + s.missed);
      return p < min || r < min;
    });
  for (const [key] of below) console.log(`below ${min}: ${key}`);
  return below.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(3);
  },
);
