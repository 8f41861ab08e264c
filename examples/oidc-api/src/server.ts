// examples/oidc-api/src/server.ts
// `node dist/server.js`: OIDC_ISSUER (required), API_AUDIENCE (required), OIDC_JWKS_URI (default:
// from the issuer's discovery document), DATABASE_URL (PostgreSQL; default a SQLite file),
// MFA_ENCRYPTION_KEY / MFA_SIGNING_KEY (required when NODE_ENV=production), PORT (default 3002).
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { knexStore, migrate } from '@secondfactor/knex';
import { createApi } from './app';

const env = process.env;

function key(name: string, make: () => string): string {
  if (env[name]) return env[name]!;
  if (env.NODE_ENV === 'production') throw new Error(`${name} is required when NODE_ENV=production`);
  console.warn(`[oidc-api] ${name} not set: using a random one for this process`);
  return make();
}

async function main(): Promise<void> {
  const issuer = env.OIDC_ISSUER;
  const audience = env.API_AUDIENCE;
  if (!issuer || !audience) throw new Error('OIDC_ISSUER and API_AUDIENCE are required');
  let jwksUri = env.OIDC_JWKS_URI;
  if (!jwksUri) {
    const discovery = await fetch(new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`));
    jwksUri = ((await discovery.json()) as { jwks_uri: string }).jwks_uri;
  }
  const knex = env.DATABASE_URL
    ? knexFactory({ client: 'pg', connection: env.DATABASE_URL })
    : knexFactory({ client: 'better-sqlite3', connection: { filename: env.SQLITE_FILE ?? 'oidc-api.sqlite' }, useNullAsDefault: true });
  await migrate(knex);
  const { app } = createApi({
    issuer, audience, jwksUri,
    store: knexStore(knex),
    keys: {
      mfaEncryptionKey: key('MFA_ENCRYPTION_KEY', () => randomBytes(32).toString('base64')),
      mfaSigningKey: key('MFA_SIGNING_KEY', () => randomBytes(32).toString('base64url')),
    },
    secureCookies: env.NODE_ENV === 'production',
  });
  const port = Number(env.PORT ?? 3002);
  app.listen(port, () => console.log(`[oidc-api] listening on http://localhost:${port} (issuer ${issuer})`));
}

main().catch((error: unknown) => {
  console.error('[oidc-api] failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
