// test/multi-instance/harness.ts
// Starts app instances as separate processes, gives each run its own table and key prefix,
// and a TCP proxy the tests can take down and bring back (never the shared services).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Knex, { type Knex as KnexType } from 'knex';
import Redis from 'ioredis';
import { migrate, rollback } from '@secondfactor/knex';
import { deleteKeysWithPrefix } from '../support/redis';

const ROOT = join(__dirname, '..', '..');

export function assertBuilt(): void {
  for (const pkg of ['core', 'express', 'knex', 'redis']) {
    if (!existsSync(join(ROOT, 'packages', pkg, 'dist', 'index.js'))) {
      throw new Error(`packages/${pkg}/dist is missing: run \`pnpm exec tsc -b\` before this suite (CI does)`);
    }
  }
}

export interface Instance {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export function startInstance(env: Record<string, string>): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [join(__dirname, 'app-server.cjs')], {
      cwd: ROOT,
      env: { ...process.env, ...env, PORT: '0', NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += String(d)));
    // A loaded machine can take a while to load the packages; an instance that never says it
    // listens is killed, so no orphan process keeps the test run alive.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`instance did not start: ${stderr}`));
    }, 45_000);
    proc.stdout!.on('data', (d) => {
      const m = /LISTENING (\d+)/.exec(String(d));
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${m[1]}`,
        proc,
        stop: () => new Promise<void>((r) => {
          if (proc.exitCode !== null) return r();
          proc.once('exit', () => r());
          proc.kill('SIGTERM');
          setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
        }),
      });
    });
    proc.once('exit', (code) => reject(new Error(`instance exited (${code}): ${stderr}`)));
  });
}

/** `n` instances, or none: if one fails to start, those that did are stopped before the error is thrown. */
export async function startInstances(env: Record<string, string>, n: number): Promise<Instance[]> {
  const settled = await Promise.allSettled(Array.from({ length: n }, () => startInstance(env)));
  const started = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((i) => i.stop()));
    throw failed.reason;
  }
  return started;
}

/** A fresh table prefix and key prefix, migrated; `cleanup` drops both. */
export async function freshNamespace(databaseUrl: string, redisUrl: string) {
  const id = randomBytes(4).toString('hex');
  const tablePrefix = `sf_mi_${id}_`;
  const keyPrefix = `sf:mi:${id}:`;
  const db: KnexType = Knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  await migrate(db, { tablePrefix });
  const redis = new Redis(redisUrl);
  return {
    tablePrefix,
    keyPrefix,
    async cleanup() {
      await rollback(db, { tablePrefix });
      await db.destroy();
      await deleteKeysWithPrefix(redis, keyPrefix);
      await redis.quit();
    },
  };
}

/** A TCP proxy to `target` that the test can take down (refusing and cutting connections) and bring back. */
export async function tcpProxy(targetUrl: string) {
  const t = new URL(targetUrl);
  const targetPort = Number(t.port);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () => new Promise<void>((resolve) => {
    server = net.createServer((client) => {
      const upstream = net.connect({ host: t.hostname, port: targetPort });
      sockets.add(client).add(upstream);
      const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1', () => {
      port = (server!.address() as net.AddressInfo).port;
      resolve();
    });
  });
  await listen();
  const urlThrough = () => {
    const u = new URL(targetUrl);
    u.port = String(port);
    return u.toString();
  };
  return {
    url: urlThrough(),
    async down() {
      await new Promise<void>((r) => { server!.close(() => r()); for (const s of sockets) s.destroy(); sockets.clear(); });
    },
    up: listen,
    async close() {
      await this.down();
    },
  };
}

export async function json(url: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: the suites read response bodies field by field
  let parsed: any;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
  return { status: res.status, body: parsed, headers: res.headers };
}
