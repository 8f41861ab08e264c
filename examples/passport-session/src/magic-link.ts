// examples/passport-session/src/magic-link.ts
// The second sign-in path: a one-time sign-in link. The token is 256 random bits, kept in Redis
// only as its SHA-256 hash, expires after 15 minutes and is consumed atomically (GETDEL), so
// it works once across every app instance. Mail is a dev-only outbox here.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

interface OutboxMessage {
  to: string;
  link: string;
  sentAt: string;
}

/** Where sign-in links go. Production sends an email; the dev outbox prints and keeps them. */
export interface Mailer {
  sendSignInLink(to: string, link: string): Promise<void>;
}

export interface DevOutbox extends Mailer {
  last(to: string): OutboxMessage | undefined;
}

/** Development only: prints the link and keeps the last message per address. */
export function devOutbox(print: (line: string) => void = console.log): DevOutbox {
  const messages = new Map<string, OutboxMessage>();
  return {
    async sendSignInLink(to, link) {
      messages.set(to, { to, link, sentAt: new Date().toISOString() });
      print(`[dev outbox] sign-in link for ${to}: ${link}`);
    },
    last: (to) => messages.get(to),
  };
}

export function magicLinks(redis: Redis, options: { keyPrefix: string; ttlSeconds?: number }) {
  const ttl = options.ttlSeconds ?? 900;
  const key = (token: string) => `${options.keyPrefix}magic:${createHash('sha256').update(token).digest('hex')}`;
  return {
    /** A fresh token for the user (the caller puts it in a link). */
    async issue(userId: string): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      await redis.set(key(token), userId, 'EX', ttl);
      return token;
    },
    /** The user the token was issued to, once; null for an unknown, used or expired token. */
    async consume(token: unknown): Promise<string | null> {
      if (typeof token !== 'string' || !TOKEN.test(token)) return null;
      return redis.getdel(key(token));
    },
  };
}
