// Runs one group of the vitest projects, as the test jobs of
// .github/workflows/ci.yml split them by the engine they need:
//
//   pnpm exec tsx scripts/test-group.ts fast|postgres|redis|s3|engines
//
// `postgres`, `redis` and `s3` are the projects that need that engine
// (bench's peer tests run BullMQ and ioredis on Redis), `engines` those that
// need all three at once (the CLI copies between them) or Debian's Chromium
// (the dashboard's browser tests, and the CLI serves the dashboard); `fast` is every other
// project, so the tests of a new package run on GitHub without a change here.
import { spawnSync } from 'node:child_process';
import { createVitest } from 'vitest/node';

const ENGINE_GROUPS: Readonly<Record<string, readonly string[]>> = {
  postgres: ['adapter-postgres'],
  redis: ['adapter-redis', 'bench'],
  s3: ['adapter-s3-document'],
  engines: ['cli', 'dashboard'],
};

const group = process.argv[2] ?? '';
if (group !== 'fast' && !Object.hasOwn(ENGINE_GROUPS, group)) {
  console.error(`usage: scripts/test-group.ts <${['fast', ...Object.keys(ENGINE_GROUPS)].join('|')}>`);
  process.exit(2);
}

// The project names as vitest.config.ts resolves them (no test file is loaded).
const vitest = await createVitest('test', { watch: false });
const all = vitest.projects.map((project) => project.name);
await vitest.close();

const grouped = Object.values(ENGINE_GROUPS).flat();
const unknown = grouped.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`scripts/test-group.ts names projects that vitest.config.ts does not have: ${unknown.join(', ')}`);
  process.exit(2);
}
const projects = group === 'fast' ? all.filter((name) => !grouped.includes(name)) : (ENGINE_GROUPS[group] ?? []);

const args = ['vitest', 'run', ...projects.flatMap((name) => ['--project', name])];
console.log(`pnpm ${args.join(' ')}`);
const result = spawnSync('pnpm', args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
