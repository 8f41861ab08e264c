// examples/express-app/src/users.ts
// The host's OWN users table (knex) and password checks (bcryptjs). Nothing here knows about MFA.
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Knex } from 'knex';

export interface User {
  id: string;
  email: string;
}

interface UserRow extends User {
  password_hash: string;
  created_at: string;
}

const USERS_TABLE = 'users';
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,63}$/;

/** Creates the host's `users` table if it does not exist yet (idempotent). */
export async function migrateUsers(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable(USERS_TABLE)) return;
  await knex.schema.createTable(USERS_TABLE, (t) => {
    t.string('id', 36).primary();
    t.string('email', 255).notNullable().unique();
    t.string('password_hash', 100).notNullable();
    t.string('created_at', 30).notNullable();
  });
}

export class RegistrationError extends Error {
  constructor(readonly field: 'email' | 'password', message: string, readonly status = 400) {
    super(message);
  }
}

function normalizeEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const email = value.trim().toLowerCase();
  return email.length <= 254 && EMAIL.test(email) ? email : null;
}

export interface Users {
  register(email: unknown, password: unknown): Promise<User>;
  /** The user when email and password match; null otherwise, after the same amount of bcrypt work. */
  checkLogin(email: unknown, password: unknown): Promise<User | null>;
  /** Re-authentication of a signed-in user by password. */
  checkPassword(userId: string, password: unknown): Promise<boolean>;
  findById(id: string): Promise<User | null>;
  findByEmail(email: unknown): Promise<User | null>;
}

export function createUsers(knex: Knex, options: { bcryptCost: number; now: () => number }): Users {
  const { bcryptCost } = options;
  // Compared against when the email is unknown, so unknown users cost the same bcrypt time as wrong passwords.
  const dummyHash = bcrypt.hash(`dummy-${randomUUID()}`, bcryptCost);

  const row = (email: string) => knex<UserRow>(USERS_TABLE).where({ email }).first();
  const compare = async (password: unknown, hash: string | undefined) => {
    const ok = await bcrypt.compare(typeof password === 'string' ? password.slice(0, 256) : '', hash ?? (await dummyHash));
    return ok && hash !== undefined && typeof password === 'string';
  };

  return {
    async register(emailInput, password) {
      const email = normalizeEmail(emailInput);
      if (!email) throw new RegistrationError('email', 'Enter a valid email address.');
      if (typeof password !== 'string' || password.length < 8 || password.length > 256) {
        throw new RegistrationError('password', 'The password must have at least 8 characters.');
      }
      const user = { id: randomUUID(), email };
      const password_hash = await bcrypt.hash(password, bcryptCost);
      try {
        await knex<UserRow>(USERS_TABLE).insert({ ...user, password_hash, created_at: new Date(options.now()).toISOString() });
      } catch (error) {
        if (await row(email)) throw new RegistrationError('email', 'An account with this email already exists.', 409);
        throw error;
      }
      return user;
    },
    async checkLogin(emailInput, password) {
      const email = normalizeEmail(emailInput);
      const found = email ? await row(email) : undefined;
      return (await compare(password, found?.password_hash)) && found ? { id: found.id, email: found.email } : null;
    },
    async checkPassword(userId, password) {
      const found = await knex<UserRow>(USERS_TABLE).where({ id: userId }).first();
      return compare(password, found?.password_hash);
    },
    async findById(id) {
      const found = await knex<UserRow>(USERS_TABLE).where({ id }).first();
      return found ? { id: found.id, email: found.email } : null;
    },
    async findByEmail(emailInput) {
      const email = normalizeEmail(emailInput);
      const found = email ? await row(email) : undefined;
      return found ? { id: found.id, email: found.email } : null;
    },
  };
}
