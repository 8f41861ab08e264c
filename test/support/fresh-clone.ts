// test/support/fresh-clone.ts
// What the packaging and fresh-machine suites share: a copy of the working tree as a clone would have it
// (tracked and new, not ignored files: no node_modules, no dist), a PATH without pnpm, and the npm
// registry check (in CI a missing registry fails the suite; elsewhere the suite skips with one loud line).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describeNeeding } from './services';

export const ROOT = join(__dirname, '..', '..');

/** A new temporary directory (left for the OS to clean; the suites remove theirs in afterAll). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `secondfactor-${prefix}-`));
}

/** Deletes a temporary tree in the background (tens of thousands of files in node_modules): the suite need not wait. */
export function removeLater(dir: string): void {
  spawn('rm', ['-rf', dir], { detached: true, stdio: 'ignore' }).unref();
}

/** Copies the files `git clone` of the current working tree would give (committed or not, never ignored ones) into `dest`. */
export function copyWorkingTree(dest: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 << 20 })
    .toString('utf8')
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(ROOT, f)));
  mkdirSync(dest, { recursive: true });
  const archive = execFileSync('tar', ['-C', ROOT, '--null', '-T', '-', '-cf', '-'], { input: files.join('\0'), maxBuffer: 1 << 30 });
  execFileSync('tar', ['-C', dest, '-xf', '-'], { input: archive, maxBuffer: 1 << 30 });
}

const PACKAGE_MANAGERS = new Set(['pnpm', 'pnpx', 'pn', 'pnx', 'corepack', 'yarn', 'yarnpkg']);

/**
 * A directory of symlinks to every command on the current PATH except pnpm (and corepack, yarn),
 * to use as the whole PATH: node, npm, npx, sh, tar, git... stay; `pnpm` is "command not found".
 */
export function pathWithoutPnpm(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const entry of (process.env.PATH ?? '').split(delimiter)) {
    if (!entry || !existsSync(entry)) continue;
    let names: string[];
    try {
      names = readdirSync(entry);
    } catch {
      continue;
    }
    for (const name of names) {
      if (PACKAGE_MANAGERS.has(name) || existsSync(join(dir, name))) continue;
      try {
        symlinkSync(join(entry, name), join(dir, name));
      } catch {
        // a name that appeared twice on the PATH: the first one wins, as in a shell
      }
    }
  }
  return dir;
}

/** True when `npm ping` reaches the configured registry. */
function registryReachable(): boolean {
  return spawnSync('npm', ['ping'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** `describeNeeding` for the npm registry: `describe` when `npm ping` reaches it. */
export function describeWithRegistry(): (name: string, fn: () => void) => void {
  return describeNeeding(registryReachable() ? null : 'the npm registry (`npm ping` fails)');
}
