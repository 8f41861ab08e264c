// examples/passport-session/src/server.ts
// `node dist/server.js`: configuration from the environment, migrations, then listen.
//   DATABASE_URL  postgres://… (several instances) — without it, a SQLite file (one instance only)
//   REDIS_URL     redis://127.0.0.1:6379 (sessions, MFA challenges and counters, sign-in links)
//   SESSION_SECRET, MFA_ENCRYPTION_KEY (32 bytes base64), MFA_SIGNING_KEY (≥ 32 chars): required
//                 when NODE_ENV=production, generated per process otherwise (and every instance
//                 of a deployment must share them)
//   PORT (default 3001; 0 = any free port), PUBLIC_URL, TABLE_PREFIX, KEY_PREFIX,
//   DEV_OUTBOX=1  development: sign-in links are printed and served at GET /dev/outbox?to=<email>
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import knexFactory from 'knex';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { createApp } from './app';
import { devOutbox, type Mailer } from './magic-link';

const env = process.env;

function key(name: string, make: () => string): string {
  const value = env[name];
  if (value) return value;
  if (env.NODE_ENV === 'production') throw new Error(`${name} is required when NODE_ENV=production`);
  console.warn(`[passport-example] ${name} not set: using a random one for this process (sessions and MFA secrets will not survive a restart)`);
  return make();
}

async function main(): Promise<void> {
  const port = Number(env.PORT ?? 3001);
  const knex = env.DATABASE_URL
    ? knexFactory({ client: 'pg', connection: env.DATABASE_URL, pool: { min: 0, max: 10 } })
    : knexFactory({ client: 'better-sqlite3', connection: { filename: env.SQLITE_FILE ?? 'passport-example.sqlite' }, useNullAsDefault: true });
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl);
  const sessionRedis = createClient({ url: redisUrl });
  sessionRedis.on('error', (error: Error) => console.error('[passport-example] session Redis:', error.message));
  await sessionRedis.connect();

  const outbox = env.DEV_OUTBOX === '1' && env.NODE_ENV !== 'production' ? devOutbox() : undefined;
  const mailer: Mailer = outbox ?? {
    async sendSignInLink() {
      throw new Error('no mailer configured: plug your email sender into createApp({ mailer })');
    },
  };
  const { app, migrate } = createApp({
    knex, redis, sessionRedis, mailer, devOutbox: outbox,
    publicUrl: env.PUBLIC_URL ?? `http://localhost:${port}`,
    keys: {
      sessionSecret: key('SESSION_SECRET', () => randomBytes(32).toString('base64url')),
      mfaEncryptionKey: key('MFA_ENCRYPTION_KEY', () => randomBytes(32).toString('base64')),
      mfaSigningKey: key('MFA_SIGNING_KEY', () => randomBytes(32).toString('base64url')),
    },
    tablePrefix: env.TABLE_PREFIX,
    keyPrefix: env.KEY_PREFIX,
    secureCookies: env.NODE_ENV === 'production',
    bcryptCost: env.BCRYPT_COST ? Number(env.BCRYPT_COST) : undefined,
  });
  await migrate();
  const server = app.listen(port, '127.0.0.1', () => {
    console.log(`LISTENING ${(server.address() as AddressInfo).port}`);
  });
  const shutdown = () => {
    server.close(() => {
      Promise.allSettled([knex.destroy(), redis.quit(), sessionRedis.quit()]).then(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error('[passport-example] failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
