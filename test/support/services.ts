// test/support/services.ts
// Where the real backing services are, and what a suite does when one is missing:
// in CI (CI=true) it fails; elsewhere it skips with one loud line naming what was skipped.
import { spawnSync } from 'node:child_process';

export const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MARIADB_URL = process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Synchronous reachability check (a child process), usable at module load to choose `describe`/`describe.skip`. */
function reachableSync(url: string, timeoutMs = 1000): boolean {
  const script = `const net=require('net');const u=new URL(process.argv[1]);const p=Number(u.port)||({'postgres:':5432,'mysql:':3306,'redis:':6379})[u.protocol]||80;` +
    `const s=net.connect({host:u.hostname,port:p});s.setTimeout(${timeoutMs},()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));`;
  return spawnSync(process.execPath, ['-e', script, url], { timeout: timeoutMs + 2000 }).status === 0;
}

/**
 * The suites' one rule for what they need — a service, a tool, a browser, the registry: `describe`
 * when `missing` is null; otherwise, in CI (CI=true), a suite whose one test fails naming what is
 * missing, and elsewhere `describe.skip` after one loud line naming it.
 */
export function describeNeeding(missing: string | null): (name: string, fn: () => void) => void {
  if (missing === null) return describe;
  return (name, fn) => {
    if (process.env.CI) {
      describe(name, () => {
        it(`needs ${missing}`, () => {
          throw new Error(`missing: ${missing} (CI=true: failing instead of skipping)`);
        });
      });
      return;
    }
    console.warn(`\n!!! SKIPPED "${name}": missing ${missing}.\n`);
    describe.skip(name, fn);
  };
}

/** `describeNeeding` for a service: `describe` when it answers at `url`. */
export function describeWithService(service: string, url: string): (name: string, fn: () => void) => void {
  return describeNeeding(reachableSync(url) ? null : `${service} at ${url} (not reachable: start it, or run CI)`);
}

/** `describeWithService` for several services at once: the first missing one decides. */
export function describeWithServices(services: [service: string, url: string][]): (name: string, fn: () => void) => void {
  for (const [service, url] of services) {
    const d = describeWithService(service, url);
    if (d !== describe) return d;
  }
  return describe;
}
