// Builds what `bin/sluice` runs: TypeScript bundled by esbuild into ESM JavaScript under dist/.
// - dist/cli/main.js: the `sluice` CLI. Code splitting: each command's implementation is its own
//   chunk, loaded by `await import()` when that command runs, so `sluice --help` and `plan check`
//   load neither the server nor the agent.
// - dist/agent/sluice-agent.js: the agent alone, one self-contained file with every dependency
//   inside (no node_modules): what the .deb ships next to a Node runtime.
// npm dependencies are bundled too, except PGlite (it loads its own wasm and data files next to its
// package files) and pg's optional native binding. Runtime assets (SQL migrations) are copied next
// to the chunks that read them. Run by `npm run build` and by `prepare` (so `npm ci` builds).
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const final = join(root, 'dist');
// Built beside dist/ and swapped in at the end: processes running from dist/ (tests, a server) never
// see a half-written tree.
const dist = join(root, `.dist-build-${process.pid}`);
rmSync(dist, { recursive: true, force: true });

// CommonJS dependencies (commander, pino, pg) call require() for Node built-ins: give the ESM
// bundle a real require.
const banner = {
  js: "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);",
};
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  banner,
  external: ['@electric-sql/pglite', '@electric-sql/pglite/*', 'pg-native'],
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  // Less to read and parse at every start; names are kept, so stack traces (with the source maps) stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
};

const [cli] = await Promise.all([
  build({
    metafile: true,
    ...common,
    entryPoints: { main: 'src/cli/main.ts' },
    outdir: join(dist, 'cli'),
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
  }),
  build({
    ...common,
    entryPoints: { 'sluice-agent': 'src/agent/main.ts' },
    outdir: join(dist, 'agent'),
  }),
]);

// The dashboard (src/web, served under /ui/ by ui-routes.ts): one browser bundle, and the page and
// style sheet copied as they are. No inline script anywhere: the server's CSP forbids it.
await build({
  absWorkingDir: root,
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'esm',
  entryPoints: { app: 'src/web/main.ts' },
  outdir: join(dist, 'web'),
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css', 'favicon.svg']) cpSync(join(root, 'src/web', f), join(dist, 'web', f));

// load-scenario.ts finds the built-in scenarios at new URL('../../scenarios/', import.meta.url).
cpSync(join(root, 'scenarios'), join(dist, 'scenarios'), { recursive: true });

// migrate.ts reads new URL('./migrations/', import.meta.url): next to the chunk that holds it.
const migrations = join(root, 'src/store/migrations');
mkdirSync(join(dist, 'cli/chunks/migrations'), { recursive: true });
for (const f of readdirSync(migrations)) cpSync(join(migrations, f), join(dist, 'cli/chunks/migrations', f));

const old = `${final}.old-${process.pid}`;
if (existsSync(final)) renameSync(final, old);
renameSync(dist, final);
rmSync(old, { recursive: true, force: true });

// `node scripts/build.mjs --what-loads`: the source files in the CLI's entry chunk (loaded by every command).
if (process.argv.includes('--what-loads')) {
  const out = Object.entries(cli.metafile.outputs).find(([k]) => k.endsWith('cli/main.js'));
  for (const [input, { bytesInOutput }] of Object.entries(out[1].inputs)) console.log(bytesInOutput, input);
}
