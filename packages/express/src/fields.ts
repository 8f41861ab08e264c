// packages/express/src/fields.ts
// Strict checks of JSON body fields: no type coercion, length caps, and `invalid_request`
// naming the offending field. Only own properties are read (a `__proto__` key is just data).
import { invalidRequest } from './problem';
import type { JsonBody } from './read-body';

/** Longest accepted value per field (characters). */
const MAX_LENGTH = {
  code: 64,
  factorId: 128,
  challengeToken: 128,
  enrollmentToken: 128,
  label: 64,
  phone: 64,
  email: 254,
  method: 32,
  assertion: 4096,
  password: 1024,
  id: 128,
  reason: 500,
} as const;

export type KnownField = keyof typeof MAX_LENGTH;

function own(body: JsonBody, name: string): unknown {
  return Object.hasOwn(body, name) ? body[name] : undefined;
}

function checkString(value: unknown, name: KnownField): string {
  const max = MAX_LENGTH[name];
  if (typeof value !== 'string') throw invalidRequest(name, `${name} must be a string`);
  if (value.length === 0) throw invalidRequest(name, `${name} must not be empty`);
  if (value.length > max) throw invalidRequest(name, `${name} must be at most ${max} characters`);
  return value;
}

/** A required string field. */
export function requiredString(body: JsonBody, name: KnownField): string {
  const value = own(body, name);
  if (value === undefined) throw invalidRequest(name, `${name} is required`);
  return checkString(value, name);
}

/** An optional string field: absent is `undefined`; present must be a non-empty string. */
export function optionalString(body: JsonBody, name: KnownField, options: { allowNull?: boolean } = {}): string | undefined {
  const value = own(body, name);
  if (value === undefined || (value === null && options.allowNull)) return undefined;
  return checkString(value, name);
}

/** An optional boolean field (only `true`/`false`, never `"true"` or `1`). */
export function optionalBoolean(body: JsonBody, name: string): boolean | undefined {
  const value = own(body, name);
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidRequest(name, `${name} must be a boolean`);
  return value;
}

/** Largest accepted JSON object field (`response`), in characters of its JSON. */
const MAX_OBJECT_JSON = 16_384;

/** An optional JSON object field (`response`): a plain object, not an array, of bounded size. */
export function optionalObject(body: JsonBody, name: 'response'): Record<string, unknown> | undefined {
  const value = own(body, name);
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidRequest(name, `${name} must be an object`);
  if (JSON.stringify(value).length > MAX_OBJECT_JSON) throw invalidRequest(name, `${name} is too large`);
  return value as Record<string, unknown>;
}

/** A required JSON object field. */
export function requiredObject(body: JsonBody, name: 'response'): Record<string, unknown> {
  const value = optionalObject(body, name);
  if (value === undefined) throw invalidRequest(name, `${name} is required`);
  return value;
}

/** A route parameter (`:id`). */
export function routeId(value: unknown): string {
  return checkString(value, 'id');
}

/** A user id in the path (`/users/:id`): up to 255 characters, as user ids are everywhere else. */
export function routeUserId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) throw invalidRequest('id', 'id must be a user id of 1 to 255 characters');
  return value;
}
