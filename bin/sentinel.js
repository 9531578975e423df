#!/usr/bin/env node
// The `sentinel` command: runs the esbuild bundle in dist/ (built by `npm run build`, or by `prepare` on install).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write(`sentinel: ${bundle} is missing; run 'npm run build' in ${path.dirname(__dirname)} first\n`);
  process.exit(2);
}
require(bundle).run(process.argv.slice(2));
