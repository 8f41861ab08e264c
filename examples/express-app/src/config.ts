// examples/express-app/src/config.ts
// Reads the environment: database (SQLite file by default, PostgreSQL with DATABASE_URL), Redis for
// short-lived MFA state (REDIS_URL), Twilio for real SMS, the WebAuthn relying party (WEBAUTHN_RP_ID,
// WEBAUTHN_ORIGINS) and the keys (generated for development).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import Redis from 'ioredis';
import type { CodeSender } from '@secondfactor/core';
import { twilioSms } from '@secondfactor/twilio';
import { devSmsSender, type DevSmsSender } from './dev-codes';
import type { AppConfig, AppKeys, WebAuthnSettings } from './app';

/** Where the example keeps its SQLite file and generated development keys (git-ignored). */
const DEFAULT_DATA_DIR = path.resolve(__dirname, '..', 'data');

type Env = Record<string, string | undefined>;

export interface RuntimeConfig {
  port: number;
  app: AppConfig;
  /** Human-readable lines for the start-up log. */
  summary: string[];
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer (got "${raw}")`);
  return n;
}

const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/**
 * The WebAuthn relying party: WEBAUTHN_RP_ID (default `localhost`) and WEBAUTHN_ORIGINS (comma-separated,
 * default `http://localhost:<PORT>` for localhost, else `https://<rp id>`). Browsers refuse every ceremony
 * whose origin's host is not the rp id or a subdomain of it, so such a setting is refused here, at start.
 */
export function webauthnFromEnv(env: Env, port: number): WebAuthnSettings {
  const rpId = env.WEBAUTHN_RP_ID || 'localhost';
  if (!HOST_NAME.test(rpId) || IPV4.test(rpId)) {
    throw new Error(`WEBAUTHN_RP_ID must be a host name in lower case such as example.com or localhost, without scheme, port or path (got "${rpId}")`);
  }
  const fallback = rpId === 'localhost' ? `http://localhost:${port}` : `https://${rpId}`;
  const origins = (env.WEBAUTHN_ORIGINS || fallback).split(',').map((o) => o.trim()).filter(Boolean);
  if (origins.length === 0) throw new Error('WEBAUTHN_ORIGINS must list at least one origin such as https://example.com');
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || url.origin !== origin) {
      throw new Error(`WEBAUTHN_ORIGINS holds "${origin}": an origin is scheme://host[:port] as the browser shows it (lower case, no path, no trailing slash)`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && url.hostname === 'localhost')) {
      throw new Error(`WEBAUTHN_ORIGINS holds "${origin}": origins must be https://, except http://localhost[:port] for development`);
    }
    if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
      throw new Error(`WEBAUTHN_ORIGINS holds "${origin}", whose host is neither WEBAUTHN_RP_ID (${rpId}) nor a subdomain of it`);
    }
  }
  return { rpId, origins: [...new Set(origins)] };
}

/**
 * Keys from MFA_ENCRYPTION_KEY / MFA_SIGNING_KEY / SESSION_SECRET, or — outside production — generated on
 * first run and kept in `<dataDir>/dev-keys.json`, so a restart keeps users able to sign in.
 */
export function loadKeys(env: Env, dataDir: string, warn: (line: string) => void = console.warn): AppKeys {
  const fromEnv = { mfaEncryptionKey: env.MFA_ENCRYPTION_KEY, mfaSigningKey: env.MFA_SIGNING_KEY, sessionSecret: env.SESSION_SECRET };
  if (fromEnv.mfaEncryptionKey && fromEnv.mfaSigningKey && fromEnv.sessionSecret) return fromEnv as AppKeys;
  const missing = Object.entries({ MFA_ENCRYPTION_KEY: fromEnv.mfaEncryptionKey, MFA_SIGNING_KEY: fromEnv.mfaSigningKey, SESSION_SECRET: fromEnv.sessionSecret })
    .filter(([, v]) => !v).map(([k]) => k);
  if (env.NODE_ENV === 'production') {
    throw new Error(`NODE_ENV=production needs ${missing.join(', ')} in the environment (generate with: openssl rand -base64 32)`);
  }
  const file = path.join(dataDir, 'dev-keys.json');
  let stored: Partial<AppKeys> = {};
  if (fs.existsSync(file)) {
    stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<AppKeys>;
  }
  const keys: AppKeys = {
    mfaEncryptionKey: fromEnv.mfaEncryptionKey ?? stored.mfaEncryptionKey ?? randomBytes(32).toString('base64'),
    mfaSigningKey: fromEnv.mfaSigningKey ?? stored.mfaSigningKey ?? randomBytes(48).toString('base64url'),
    sessionSecret: fromEnv.sessionSecret ?? stored.sessionSecret ?? randomBytes(48).toString('base64url'),
  };
  const created = !fs.existsSync(file);
  if (created || stored.mfaEncryptionKey === undefined || stored.mfaSigningKey === undefined || stored.sessionSecret === undefined) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify({ ...stored, ...keys }, null, 2)}\n`, { mode: 0o600 });
  }
  const bar = '!'.repeat(78);
  warn([
    bar,
    `!!! WARNING: ${missing.join(', ')} not set: using DEVELOPMENT keys ${created ? 'generated now and saved to' : 'loaded from'}`,
    `!!!   ${file}`,
    '!!! Anyone who can read that file can decrypt TOTP secrets and forge sessions. Never use it in',
    '!!! production: set MFA_ENCRYPTION_KEY, MFA_SIGNING_KEY and SESSION_SECRET (openssl rand -base64 32).',
    bar,
  ].join('\n'));
  return keys;
}

/** Builds the whole runtime configuration from the environment. */
export function configFromEnv(env: Env = process.env): RuntimeConfig {
  const production = env.NODE_ENV === 'production';
  const dataDir = env.DATA_DIR ? path.resolve(env.DATA_DIR) : DEFAULT_DATA_DIR;
  const summary: string[] = [];
  // Settings first, so a bad one is refused before any connection is opened.
  const port = positiveInt(env, 'PORT', 3000);
  const stepUpMaxAge = positiveInt(env, 'STEP_UP_MAX_AGE', 300);
  const bcryptCost = positiveInt(env, 'BCRYPT_COST', 10);
  const auditRetentionDays = positiveInt(env, 'AUDIT_RETENTION_DAYS', 365);
  const webauthn = webauthnFromEnv(env, port);

  let knex: Knex;
  if (env.DATABASE_URL) {
    knex = knexFactory({ client: 'pg', connection: env.DATABASE_URL, pool: { min: 0, max: 10 } });
    summary.push(`database: PostgreSQL (${new URL(env.DATABASE_URL).host})`);
  } else {
    const filename = env.SQLITE_FILE ? path.resolve(env.SQLITE_FILE) : path.join(dataDir, 'app.sqlite');
    fs.mkdirSync(path.dirname(filename), { recursive: true });
    knex = knexFactory({ client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true });
    summary.push(`database: SQLite file ${filename}`);
  }

  let redis: Redis | undefined;
  if (env.REDIS_URL) {
    redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1 });
    summary.push(`short-lived MFA state: Redis (${new URL(env.REDIS_URL).host})`);
  } else {
    summary.push('short-lived MFA state: the same database');
  }

  let sms: CodeSender | undefined;
  let devCodes: DevSmsSender | undefined;
  if (env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && env.TWILIO_FROM) {
    sms = twilioSms({ accountSid: env.TWILIO_ACCOUNT_SID, authToken: env.TWILIO_AUTH_TOKEN, from: env.TWILIO_FROM });
    summary.push(`SMS: Twilio (from ${env.TWILIO_FROM})`);
  } else if (env.SMS_DEV_MODE === 'true' && !production) {
    // Only by an explicit setting: the page then shows codes to whoever holds the login challenge.
    devCodes = devSmsSender();
    sms = devCodes;
    summary.push('SMS: console sender in dev mode (SMS_DEV_MODE=true: codes are shown on the page, never sent)');
  } else {
    summary.push('SMS: off (set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM, or SMS_DEV_MODE=true for local development)');
  }
  summary.push(`security keys and passkeys: rp id ${webauthn.rpId}, origins ${webauthn.origins.join(', ')}`);
  const adminEmails = (env.ADMIN_EMAILS ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  if (adminEmails.length > 0) summary.push(`admin tools for: ${adminEmails.join(', ')} (who must use a security key or an authenticator app after 7 days)`);
  summary.push(`audit log: events kept ${auditRetentionDays} days`);

  const keys = loadKeys(env, dataDir);
  return {
    port,
    summary,
    app: {
      knex,
      redis,
      sms,
      devCodes,
      webauthn,
      adminEmails,
      auditRetentionDays,
      keys,
      secureCookies: env.COOKIE_SECURE ? env.COOKIE_SECURE === 'true' : production,
      stepUpMaxAge,
      bcryptCost,
      onClose: async () => {
        await redis?.quit().catch(() => undefined);
      },
    },
  };
}
