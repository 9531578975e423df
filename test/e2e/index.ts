// The mocha runner the extension host loads (extensionTestsPath = out/e2e/index.js): it runs every
// *.test.js beside it with the bdd interface and the spec reporter, and settles when they are done; the
// workbench then reports 0 (resolved) or 1 (rejected) to test/e2e/run.mjs. mocha is bundled in by
// test/e2e/build.mjs. Env (set on run.mjs, it reaches the extension host): E2E_GREP runs only the tests
// whose full title matches this regular expression.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import Mocha from 'mocha';

// The extension host forwards console arguments unformatted ("%s%s", a, b) and console.log cannot be
// replaced there, so the reporter formats its own lines before they reach console.log.
Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(util.format(...args));

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 60000 });
  if (process.env.E2E_GREP) mocha.grep(new RegExp(process.env.E2E_GREP));
  // smoke.test.js first, so that it sees the extension before any other test has activated it.
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js'))
    .sort((a, b) => Number(b === 'smoke.test.js') - Number(a === 'smoke.test.js') || a.localeCompare(b));
  for (const file of files) mocha.addFile(path.join(__dirname, file));
  return new Promise((resolve, reject) => {
    if (files.length === 0) {
      reject(new Error(`no *.test.js in ${__dirname}: run node test/e2e/build.mjs`));
      return;
    }
    try {
      mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} e2e test(s) failed`)) : resolve()));
    } catch (err) {
      reject(err);
    }
  });
}
