// examples/passport-session/src/users.ts
// The host's own users table (knex, bcrypt). Nothing here knows about MFA.
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Knex } from 'knex';

export interface HostUser {
  id: string;
  email: string;
}

interface UserRow extends HostUser {
  password_hash: string;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,63}$/;

function normalizeEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const email = value.trim().toLowerCase();
  return email.length <= 254 && EMAIL.test(email) ? email : null;
}

export interface Users {
  migrate(): Promise<void>;
  /** The new user, or null when the email is taken or the input is not valid. */
  register(email: unknown, password: unknown): Promise<HostUser | null>;
  /** The user when email and password match; null otherwise, after the same bcrypt work. */
  checkLogin(email: unknown, password: unknown): Promise<HostUser | null>;
  findById(id: string): Promise<HostUser | null>;
  findByEmail(email: unknown): Promise<HostUser | null>;
}

export function createUsers(knex: Knex, options: { table: string; bcryptCost: number }): Users {
  const { table, bcryptCost } = options;
  const dummyHash = bcrypt.hash(`dummy-${randomUUID()}`, bcryptCost);
  const pick = (row: UserRow | undefined): HostUser | null => (row ? { id: row.id, email: row.email } : null);

  return {
    async migrate() {
      if (await knex.schema.hasTable(table)) return;
      await knex.schema.createTable(table, (t) => {
        t.string('id', 36).primary();
        t.string('email', 254).notNullable().unique();
        t.string('password_hash', 100).notNullable();
      });
    },
    async register(emailInput, password) {
      const email = normalizeEmail(emailInput);
      if (!email || typeof password !== 'string' || password.length < 8 || password.length > 256) return null;
      const user = { id: randomUUID(), email };
      try {
        await knex<UserRow>(table).insert({ ...user, password_hash: await bcrypt.hash(password, bcryptCost) });
      } catch {
        return null; // the unique index refused a taken email
      }
      return user;
    },
    async checkLogin(emailInput, password) {
      const email = normalizeEmail(emailInput);
      const row = email ? await knex<UserRow>(table).where({ email }).first() : undefined;
      const ok = await bcrypt.compare(typeof password === 'string' ? password.slice(0, 256) : '', row?.password_hash ?? (await dummyHash));
      return ok && row ? pick(row) : null;
    },
    async findById(id) {
      return pick(await knex<UserRow>(table).where({ id }).first());
    },
    async findByEmail(emailInput) {
      const email = normalizeEmail(emailInput);
      return email ? pick(await knex<UserRow>(table).where({ email }).first()) : null;
    },
  };
}
