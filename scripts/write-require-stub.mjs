// Part of every published package's build (run in the package's folder):
// writes dist/require.cjs, the target of the `require` export condition.
// Node reaches it only when it cannot require() an ES module; from Node 20.19
// and 22.12, require() of a Berth package matches `module-sync` first and
// loads the ES module. One source here instead of a copy in each package.
import { mkdirSync, writeFileSync } from 'node:fs';

const STUB = `'use strict';
// Reached only through the \`require\` export condition, which Node uses when it
// cannot require() an ES module: from Node 20.19 and 22.12, require() of this
// package matches the \`module-sync\` condition first and loads the ES module.
const { name } = require('../package.json');
const error = new Error(
  \`\${name} is an ES module: require('\${name}') needs Node >= 20.19 (20.x) or >= 22.12, \` +
    \`which can require() ES modules; this is Node \${process.versions.node}. Use import or import('\${name}') instead.\`,
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
`;

mkdirSync('dist', { recursive: true });
writeFileSync('dist/require.cjs', STUB);
