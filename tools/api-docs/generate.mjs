// tools/api-docs/generate.mjs
// Writes the API reference docs/api/ from the TSDoc in packages/*/src (typedoc + typedoc-plugin-markdown).
// `--check` regenerates into a temporary directory instead and fails when docs/api differs (CI: `pnpm docs:api:check`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const committed = join(root, 'docs', 'api');
const check = process.argv.includes('--check');

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout}${result.stderr}\n${command} ${args.join(' ')} exited with ${result.status ?? result.signal}\n`);
    process.exit(1);
  }
  return result;
}

// typedoc reads the referenced packages' declarations (dist/*.d.ts), so build them first (a no-op when up to date).
const packages = readdirSync(join(root, 'packages')).map((name) => join('packages', name));
run(join(root, 'node_modules', '.bin', 'tsc'), ['-b', ...packages], root);

const out = check ? mkdtempSync(join(tmpdir(), 'secondfactor-api-')) : committed;
const generated = run(join(here, 'node_modules', '.bin', 'typedoc'), ['--options', 'typedoc.json', '--out', out, '--logLevel', 'Warn'], here);
process.stderr.write(generated.stderr);

if (!check) {
  console.log(`docs/api written (${files(committed).length} files)`);
  process.exit(0);
}

function files(dir) {
  let found = [];
  try {
    statSync(dir);
  } catch {
    return found;
  }
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    found = entry.isDirectory() ? found.concat(files(path)) : found.concat(path);
  }
  return found;
}

const want = new Map(files(out).map((f) => [relative(out, f), readFileSync(f, 'utf8')]));
const have = new Map(files(committed).map((f) => [relative(committed, f), readFileSync(f, 'utf8')]));
const stale = [];
for (const [name, text] of want) {
  if (!have.has(name)) stale.push(`missing  docs/api/${name}`);
  else if (have.get(name) !== text) {
    const a = have.get(name).split('\n');
    const b = text.split('\n');
    const line = b.findIndex((l, i) => l !== a[i]);
    stale.push(`changed  docs/api/${name} (from line ${line + 1}: ${JSON.stringify(b[line] ?? '')})`);
  }
}
for (const name of have.keys()) if (!want.has(name)) stale.push(`obsolete docs/api/${name}`);
rmSync(out, { recursive: true, force: true });

if (stale.length > 0) {
  console.error(`docs/api is stale — regenerate it with \`pnpm docs:api\` and commit the result:\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(`docs/api is current (${want.size} files)`);
