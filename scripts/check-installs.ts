// `pnpm check:installs` (after `pnpm build`): what a user of core and one
// adapter gets from npm. Packs every published package, then for each adapter
// installs core, the adapter and its driver with plain npm in a scratch
// project outside the workspace (no @berth/* package from the registry) and
// checks the tree (no other engine's driver, one copy of core), runs a small
// program with plain node, bundles it with esbuild and runs the bundle.
// `--update-readmes` rewrites the "Install size" section of the package READMEs.
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { CephGateway } from '../packages/adapter-s3-document/src/fixtures/ceph-gateway.js';
import {
  berthClosure,
  CheckFailure,
  installScratchProject,
  type PackedPackage,
  packAll,
  root,
  run,
  thirdPartyPeers,
} from './check-installs-pack.js';
import { type ProgramParts, programSource } from './check-installs-program.js';

/** Names that belong to one engine: none may appear in another adapter's install. */
const ENGINE_PACKAGES: readonly RegExp[] = [/^pg$/, /^ioredis$/, /^better-sqlite3$/, /^kysely$/, /^@aws-sdk\//];

interface AdapterCase {
  readonly name: string;
  /** The engine's packages the user installs explicitly, as the README says (also checked to be present). */
  readonly drivers: readonly string[];
  /** Engine packages that come with the adapter (a match of ENGINE_PACKAGES that is allowed). */
  readonly allowed: readonly RegExp[];
  /** Packages esbuild leaves out of the bundle (native addons). */
  readonly external: readonly string[];
  /** Starts what the program needs; returns its URL, the environment and a stop function. */
  readonly prepare: (scratch: string) => Promise<Engine>;
  readonly parts: (bundled: boolean) => ProgramParts;
  /** What the README should say about this install's size beyond the numbers. */
  readonly sizeNote?: (scratch: string) => string | undefined;
}

/** A running engine: the URL of each run (plain, bundled) gets fresh state. */
interface Engine {
  readonly url: (run: 'plain' | 'bundled') => string;
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const token = randomBytes(4).toString('hex');

interface ProgramExtras {
  readonly imports?: string;
  readonly setup?: string;
  readonly cleanup?: string;
  /** Other Berth packages the program's backends come from (the queue of a backend without one). */
  readonly alsoAdapters?: readonly string[];
}

function parts(name: string, bundled: boolean, extras: ProgramExtras = {}): ProgramParts {
  // The bundled variant passes its adapters explicitly (a bundle drops what is
  // only imported by name at run time); the plain one lets createBackend load them.
  const adapters = [name, ...(extras.alsoAdapters ?? [])];
  return {
    imports: [
      ...(bundled ? adapters.map((adapter, index) => `import * as adapter${index} from '${adapter}';`) : []),
      extras.imports ?? '',
    ].join('\n'),
    backendOptions: bundled ? `{ adapters: [${adapters.map((_, index) => `adapter${index}`).join(', ')}] }` : undefined,
    setup: extras.setup ?? '',
    cleanup: extras.cleanup ?? '',
  };
}

/**
 * Where the engines are (`BERTH_POSTGRES_URL`, `BERTH_REDIS_URL`, `S3_ENDPOINT`…).
 * Read by name: this script runs outside turbo, whose task cache the lint rule
 * on undeclared variables protects.
 */
function setting(name: string): string | undefined {
  return process.env[name];
}

const noStop = async (): Promise<void> => {};

const ADAPTERS: readonly AdapterCase[] = [
  {
    name: '@berth/adapter-memory',
    drivers: [],
    allowed: [],
    external: [],
    prepare: async () => ({ url: () => 'memory:', env: {}, stop: noStop }),
    parts: (bundled) => parts('@berth/adapter-memory', bundled),
  },
  {
    name: '@berth/adapter-sqlite',
    drivers: ['better-sqlite3'],
    allowed: [/^better-sqlite3$/, /^kysely$/],
    external: ['better-sqlite3'],
    prepare: async (scratch) => ({ url: (run) => `sqlite:${join(scratch, `${run}.db`)}`, env: {}, stop: noStop }),
    parts: (bundled) => parts('@berth/adapter-sqlite', bundled),
    sizeNote: (scratch) => {
      // Where better-sqlite3's prebuilt binary cannot be downloaded, npm compiles it and keeps the objects.
      const build = join(scratch, 'node_modules', 'better-sqlite3', 'build');
      if (!existsSync(join(build, 'Release', 'obj.target'))) return undefined;
      const binary = statSync(join(build, 'Release', 'better_sqlite3.node')).size;
      return (
        'better-sqlite3 was compiled from source in this measure (its prebuilt binary could not be downloaded): ' +
        `${kB(diskBytes(build))} of the total is its build folder, where an install of the prebuilt binary ` +
        `keeps only the binary (${kB(binary)}).`
      );
    },
  },
  {
    name: '@berth/adapter-postgres',
    drivers: ['pg'],
    allowed: [/^pg$/, /^kysely$/],
    external: [],
    prepare: async () => {
      const base = setting('BERTH_POSTGRES_URL') ?? 'postgres://postgres@127.0.0.1:5432/test';
      const schema = `berth_install_check_${token}`;
      const url = `${base}${base.includes('?') ? '&' : '?'}schema=${schema}`;
      return { url: () => url, env: { BERTH_CHECK_SCHEMA: schema }, stop: noStop };
    },
    parts: (bundled) =>
      parts('@berth/adapter-postgres', bundled, {
        cleanup: `  await backend.native().query(\`DROP SCHEMA IF EXISTS "\${process.env.BERTH_CHECK_SCHEMA}" CASCADE\`);`,
      }),
  },
  {
    name: '@berth/adapter-redis',
    drivers: ['ioredis'],
    allowed: [/^ioredis$/],
    external: [],
    prepare: async () => {
      const base = setting('BERTH_REDIS_URL') ?? 'redis://127.0.0.1:6379';
      const prefix = `berth-install-check-${token}-`;
      const url = `${base}${base.includes('?') ? '&' : '?'}keyPrefix=${prefix}`;
      return { url: () => url, env: { BERTH_CHECK_PREFIX: prefix }, stop: noStop };
    },
    parts: (bundled) =>
      parts('@berth/adapter-redis', bundled, {
        // Only this run's keys: SCAN the unique prefix and unlink (never a flush).
        cleanup: `  const redis = backend.native();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', \`\${process.env.BERTH_CHECK_PREFIX}*\`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');`,
      }),
  },
  {
    name: '@berth/adapter-s3-document',
    drivers: ['@aws-sdk/client-s3'],
    allowed: [/^@aws-sdk\//],
    external: [],
    prepare: async () => {
      const external = setting('S3_ENDPOINT');
      const gateway = external === undefined ? await CephGateway.start() : undefined;
      const endpoint = external ?? (gateway as CephGateway).endpoint;
      const bucket = `berth-install-check-${token}`;
      const url = `s3://${bucket}/state.json?endpoint=${encodeURIComponent(endpoint)}&forcePathStyle=true&region=us-east-1&flushOnExit=false`;
      const env = {
        BERTH_CHECK_S3_ENDPOINT: endpoint,
        BERTH_CHECK_BUCKET: bucket,
        AWS_ACCESS_KEY_ID: external === undefined ? 'test' : (setting('S3_ACCESS_KEY_ID') ?? ''),
        AWS_SECRET_ACCESS_KEY: external === undefined ? 'test' : (setting('S3_SECRET_ACCESS_KEY') ?? ''),
        AWS_REGION: 'us-east-1',
      };
      return { url: () => url, env, stop: async () => gateway?.stop() };
    },
    parts: (bundled) =>
      parts('@berth/adapter-s3-document', bundled, {
        alsoAdapters: ['@berth/adapter-memory'],
        imports: `import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';`,
        setup: `const s3 = new S3Client({ endpoint: process.env.BERTH_CHECK_S3_ENDPOINT, forcePathStyle: true });
await s3.send(new CreateBucketCommand({ Bucket: process.env.BERTH_CHECK_BUCKET }));`,
        // The backend saves on close: close first, then remove what it wrote.
        cleanup: `  await backend.close();
  const Bucket = process.env.BERTH_CHECK_BUCKET;
  const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
  for (const { Key } of listed.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket, Key }));
  await s3.send(new DeleteBucketCommand({ Bucket }));
  s3.destroy();`,
      }),
  },
];

/** One node of `npm ls --all --json --long`. */
interface NpmNode {
  readonly name?: string;
  readonly version?: string;
  readonly resolved?: string;
  readonly path?: string;
  readonly missing?: boolean;
  readonly dependencies?: Record<string, NpmNode>;
  readonly problems?: readonly string[];
}

/** Every installed package folder in the tree, by name. */
function installedCopies(tree: NpmNode): Map<string, Map<string, NpmNode>> {
  const copies = new Map<string, Map<string, NpmNode>>();
  const walk = (node: NpmNode): void => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.missing === true || child.path === undefined) continue;
      // A package met again is listed without its dependencies ("deduped"):
      // keep the fuller entry and walk every entry (the JSON is a finite tree).
      const byPath = copies.get(name) ?? new Map<string, NpmNode>();
      const known = byPath.get(child.path);
      if (
        known === undefined ||
        Object.keys(child.dependencies ?? {}).length > Object.keys(known.dependencies ?? {}).length
      ) {
        byPath.set(child.path, child);
      }
      copies.set(name, byPath);
      walk(child);
    }
  };
  walk(tree);
  return copies;
}

function checkTree(scratch: string, adapter: AdapterCase, expectedBerth: readonly string[]): number {
  const result = JSON.parse(run('npm', ['ls', '--all', '--json', '--long'], scratch)) as NpmNode;
  const problems: string[] = [...(result.problems ?? [])];
  const copies = installedCopies(result);
  for (const name of copies.keys()) {
    if (ENGINE_PACKAGES.some((engine) => engine.test(name)) && !adapter.allowed.some((allowed) => allowed.test(name))) {
      problems.push(`${name} is installed, but it belongs to another engine`);
    }
  }
  for (const driver of adapter.drivers) if (!copies.has(driver)) problems.push(`${driver} is not installed`);
  const berth = [...copies.keys()].filter((name) => name.startsWith('@berth/')).sort();
  if (berth.join() !== [...expectedBerth].sort().join()) {
    problems.push(`@berth packages installed: ${berth.join(', ')}; expected ${expectedBerth.join(', ')}`);
  }
  for (const name of berth) {
    const nodes = [...(copies.get(name)?.values() ?? [])];
    if (nodes.length !== 1)
      problems.push(`${nodes.length} copies of ${name}: ${nodes.map((node) => node.path).join(', ')}`);
    for (const node of nodes) {
      if (!node.resolved?.startsWith('file:'))
        problems.push(`${name} came from ${node.resolved}, not from its tarball`);
    }
  }
  if (problems.length > 0) throw new CheckFailure(`npm ls in ${scratch}:\n  ${problems.join('\n  ')}`);
  return copies.size;
}

function runProgram(file: string, cwd: string, env: NodeJS.ProcessEnv): void {
  const output = run(process.execPath, [file], cwd, { ...process.env, ...env }).trim();
  if (output.split('\n').at(-1) !== 'OK') throw new CheckFailure(`${file} printed ${JSON.stringify(output)}, not OK`);
}

interface Measured {
  readonly adapter: string;
  readonly command: string;
  readonly tarballBytes: number;
  readonly nodeModulesBytes: number;
  readonly packages: number;
  /** A sentence under the README table, when the measure needs one. */
  readonly note: string | undefined;
}

function diskBytes(directory: string): number {
  return Number(run('du', ['-sk', directory], root).split('\t')[0]) * 1024;
}

async function checkAdapter(packed: ReadonlyMap<string, PackedPackage>, adapter: AdapterCase): Promise<Measured> {
  const started = Date.now();
  const berth = berthClosure(packed, ['@berth/core', adapter.name]);
  const peers = thirdPartyPeers(packed, berth);
  // The README's driver, at the adapter's own range when it is a peer (or dependency).
  const manifest = (packed.get(adapter.name) as PackedPackage).manifest;
  const drivers = Object.fromEntries(
    adapter.drivers.map((driver) => {
      const range = manifest.peerDependencies?.[driver] ?? manifest.dependencies?.[driver];
      if (range === undefined) throw new CheckFailure(`${adapter.name} declares no ${driver}`);
      return [driver, range];
    }),
  );
  const timings: string[] = [];
  let lap = Date.now();
  const time = (step: string): void => {
    timings.push(`${step} ${((Date.now() - lap) / 1000).toFixed(0)} s`);
    lap = Date.now();
  };
  const scratch = installScratchProject(packed, adapter.name.replace('@berth/', ''), ['@berth/core', adapter.name], {
    ...peers,
    ...drivers,
  });
  time('install');
  try {
    const measured = await checkScratchProject(scratch, packed, adapter, berth, time);
    rmSync(scratch, { recursive: true, force: true });
    console.log(
      `ok ${adapter.name}: ${measured.packages} packages, node_modules ${kB(measured.nodeModulesBytes)}, ` +
        `tarballs ${kB(measured.tarballBytes)}, program and bundle print OK ` +
        `(${((Date.now() - started) / 1000).toFixed(0)} s: ${timings.join(', ')})`,
    );
    return measured;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CheckFailure(`${message}\n(the scratch project is kept in ${scratch})`, { cause: error });
  }
}

async function checkScratchProject(
  scratch: string,
  packed: ReadonlyMap<string, PackedPackage>,
  adapter: AdapterCase,
  berth: readonly string[],
  time: (step: string) => void,
): Promise<Measured> {
  const packages = checkTree(scratch, adapter, berth);
  time('npm ls');
  const measured: Measured = {
    adapter: adapter.name,
    command: `npm install ${['@berth/core', adapter.name, ...adapter.drivers].join(' ')}`,
    tarballBytes: berth.reduce((sum, name) => sum + (packed.get(name) as PackedPackage).tarballBytes, 0),
    nodeModulesBytes: diskBytes(join(scratch, 'node_modules')),
    packages,
    note: adapter.sizeNote?.(scratch),
  };
  const engine = await adapter.prepare(scratch);
  time('engine');
  // The bundle runs from a folder of its own, where only the external
  // packages (linked from the scratch project) can be resolved.
  const bundleDirectory = mkdtempSync(join(tmpdir(), 'berth-bundle-'));
  try {
    writeFileSync(join(scratch, 'program.mjs'), programSource(adapter.parts(false)));
    runProgram('program.mjs', scratch, { ...engine.env, BERTH_CHECK_URL: engine.url('plain') });
    time('program');

    writeFileSync(join(scratch, 'bundled.mjs'), programSource(adapter.parts(true)));
    await build({
      entryPoints: [join(scratch, 'bundled.mjs')],
      outfile: join(bundleDirectory, 'app.mjs'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: [...adapter.external],
      logLevel: 'error',
      // CommonJS dependencies (pg, ioredis, the AWS SDK) require() Node's modules.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    for (const name of adapter.external) {
      mkdirSync(join(bundleDirectory, 'node_modules'), { recursive: true });
      symlinkSync(join(scratch, 'node_modules', name), join(bundleDirectory, 'node_modules', name));
    }
    runProgram('app.mjs', bundleDirectory, { ...engine.env, BERTH_CHECK_URL: engine.url('bundled') });
    time('bundle');
  } finally {
    rmSync(bundleDirectory, { recursive: true, force: true });
    await engine.stop();
  }
  return measured;
}

function kB(bytes: number): string {
  return bytes >= 1_000_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${Math.round(bytes / 1000)} kB`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const only = process.argv.slice(2).filter((argument) => !argument.startsWith('--'));
  const packed = packAll();
  const packDirectory = dirname((packed.get('@berth/core') as PackedPackage).tarball);
  process.once('exit', () => rmSync(packDirectory, { recursive: true, force: true }));
  console.log(`packed ${packed.size} packages (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const failures: string[] = [];
  const measured: Measured[] = [];
  for (const adapter of ADAPTERS) {
    if (only.length > 0 && !only.some((name) => adapter.name.includes(name))) continue;
    try {
      measured.push(await checkAdapter(packed, adapter));
    } catch (error) {
      failures.push(`${adapter.name}: ${error instanceof Error ? error.message : String(error)}`);
      console.error(`FAIL ${failures.at(-1)}`);
      if (!(error instanceof CheckFailure)) console.error(error);
    }
  }
  if (process.argv.includes('--update-readmes')) {
    if (only.length > 0 || failures.length > 0)
      console.error('README install sizes not updated: that needs a full, passing run');
    else updateReadmes(packed, measured);
  }
  console.log(`check:installs took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (failures.length > 0) {
    console.error(`\ncheck:installs failed for ${failures.length} adapter(s):\n${failures.join('\n\n')}`);
    process.exit(1);
  }
}

const HEADING = '## Install size';
const CORE_README = 'https://github.com/berth-dev/berth/blob/main/packages/core/README.md#install-size';

/** A Markdown table with its columns padded, as the READMEs' other tables are. */
function markdownTable(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] as readonly string[]).map((_, column) =>
    Math.max(3, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column] as number)).join(' | ')} |`;
  return [
    line(rows[0] as readonly string[]),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.slice(1).map(line),
  ].join('\n');
}

function updateReadmes(packed: ReadonlyMap<string, PackedPackage>, measured: readonly Measured[]): void {
  const where = `npm ${run('npm', ['--version'], root).trim()}, Linux, Node ${process.versions.node}`;
  const header = ['command', 'Berth tarballs', '`node_modules` on disk', 'packages'];
  const row = (entry: Measured): string[] => [
    `\`${entry.command}\``,
    kB(entry.tarballBytes),
    kB(entry.nodeModulesBytes),
    String(entry.packages),
  ];
  const notes = (entries: readonly Measured[]): string =>
    entries.flatMap((entry) => (entry.note === undefined ? [] : [`\n${entry.note}\n`])).join('');
  for (const pack of packed.values()) {
    const own = measured.find((entry) => entry.adapter === pack.name);
    let body: string;
    if (pack.name === '@berth/core') {
      body =
        `\`@berth/core\` alone is a ${kB(pack.tarballBytes)} tarball with no dependencies. With one adapter and ` +
        `its driver, installed into an empty project (${where}; measured by \`pnpm check:installs\`):\n\n` +
        `${markdownTable([header, ...measured.map(row)])}\n${notes(measured)}`;
    } else if (own !== undefined) {
      body =
        `Core, this adapter and its driver, installed into an empty project (${where}; measured by ` +
        `\`pnpm check:installs\`):\n\n${markdownTable([header, row(own)])}\n${notes([own])}`;
    } else {
      body =
        `The packed \`${pack.name}\` is ${kB(pack.tarballBytes)} (${where}; measured by \`pnpm check:installs\`). ` +
        `Core with each adapter: [core's README](${CORE_README}).\n`;
    }
    const section = `${HEADING}\n\n${body}`;
    const file = join(pack.directory, 'README.md');
    const text = readFileSync(file, 'utf8');
    const start = text.indexOf(`\n${HEADING}\n`);
    let next: string;
    if (start === -1) {
      next = `${text.trimEnd()}\n\n${section}`;
    } else {
      const end = text.indexOf('\n## ', start + 1);
      next = `${text.slice(0, start + 1)}${section}${end === -1 ? '' : text.slice(end)}`;
    }
    writeFileSync(file, next);
  }
}

await main();
