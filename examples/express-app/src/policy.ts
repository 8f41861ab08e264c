// examples/express-app/src/policy.ts
// The host's MFA policy (issue #11): administrators (ADMIN_EMAILS) must use a security key or an
// authenticator app, with a grace period counted from the first time the policy saw them as an
// admin (kept in the host's own `policy_starts` table); everyone else is only nudged.
import type { Knex } from 'knex';
import type { MfaPolicy } from '@secondfactor/core';

const STARTS_TABLE = 'policy_starts';
const DAY_MS = 86_400_000;

interface StartRow {
  user_id: string;
  since: string;
}

export interface PolicyOptions {
  /** True when the user with this email is an administrator. */
  isAdminEmail: (email: string) => boolean;
  /** The user's email (null for an unknown user). */
  emailOf: (userId: string) => Promise<string | null>;
  /** The factor types an administrator may use. */
  methods: string[];
  graceDays: number;
  now: () => number;
}

export interface HostPolicy {
  /** For `mfaGate(mfa, { policy })` and the pages' banner. */
  policy(userId: string): Promise<MfaPolicy>;
  migrate(): Promise<void>;
}

/**
 * Why a per-user start and not the account's creation time: an email added to ADMIN_EMAILS later
 * gets its full grace period, instead of being past it at once because the account is old.
 */
export function createPolicy(knex: Knex, options: PolicyOptions): HostPolicy {
  /** When the policy first applied to this user: stored the first time it is asked (idempotent under races). */
  async function startOf(userId: string): Promise<number> {
    const found = await knex<StartRow>(STARTS_TABLE).where({ user_id: userId }).first();
    if (found) return Date.parse(found.since);
    await knex<StartRow>(STARTS_TABLE).insert({ user_id: userId, since: new Date(options.now()).toISOString() }).onConflict('user_id').ignore();
    const row = await knex<StartRow>(STARTS_TABLE).where({ user_id: userId }).first();
    return Date.parse(row!.since);
  }
  return {
    async policy(userId) {
      const email = await options.emailOf(userId);
      if (email === null || !options.isAdminEmail(email)) return { required: false };
      return { required: true, methods: [...options.methods], graceUntil: (await startOf(userId)) + options.graceDays * DAY_MS };
    },
    async migrate() {
      if (await knex.schema.hasTable(STARTS_TABLE)) return;
      await knex.schema.createTable(STARTS_TABLE, (t) => {
        t.string('user_id', 36).primary();
        t.string('since', 30).notNullable();
      });
    },
  };
}
