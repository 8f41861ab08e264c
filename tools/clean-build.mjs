// tools/clean-build.mjs
// `prepack` of every publishable package: deletes the package's dist/ and build info, then builds it
// (and, incrementally, what it references) with `tsc -b`. A tarball therefore holds exactly what the
// current sources compile to — never a missing dist/ (tsc -b trusts its build info even when dist/ was
// deleted) and never a stale file left over from a deleted source.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const pkg = process.cwd();
rmSync(join(pkg, 'dist'), { recursive: true, force: true });
rmSync(join(pkg, 'tsconfig.tsbuildinfo'), { force: true });
const tsc = spawnSync('tsc', ['-b'], { cwd: pkg, stdio: 'inherit', shell: process.platform === 'win32' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
if (!existsSync(join(pkg, 'dist', 'index.js'))) {
  console.error(`clean-build: ${join(pkg, 'dist', 'index.js')} was not built`);
  process.exit(1);
}
