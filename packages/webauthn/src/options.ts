// packages/webauthn/src/options.ts
// webauthn()'s options, checked once when the plugin is built: errors name the option.
import { closestOptionName, MfaConfigError } from '@secondfactor/core';

export type UserVerification = 'required' | 'preferred' | 'discouraged';

export interface WebAuthnOptions {
  /**
   * Relying-party id: the host name credentials are scoped to, e.g. `example.com` (no scheme, port
   * or path; lower case). Every origin's host must be it or one of its subdomains.
   */
  rpId: string;
  /** Relying-party name shown by the browser or authenticator while registering, e.g. `Acme`. */
  rpName: string;
  /**
   * The exact origins ceremonies may come from: `https://…`, or for development `http://localhost[:port]`
   * and `http://127.0.0.1[:port]`. Never taken from the request.
   */
  origins: string[];
  /**
   * Whether the authenticator must verify the user (PIN, biometrics): `required` refuses keys that
   * did not, `preferred` (default) asks and accepts either, `discouraged` asks not to.
   */
  userVerification?: UserVerification;
  /** How long the browser waits for the user, and how long a challenge lives, in seconds (30–600, default 300). */
  timeoutSeconds?: number;
  /** Attestation conveyance. Only `none` is supported for now: authenticator make and model are not checked. */
  attestation?: 'none';
}

export interface ResolvedWebAuthnOptions {
  rpId: string;
  rpName: string;
  origins: string[];
  userVerification: UserVerification;
  timeoutSeconds: number;
}

const KNOWN = ['rpId', 'rpName', 'origins', 'userVerification', 'timeoutSeconds', 'attestation'] as const;
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1'];

function checkOrigin(value: unknown, rpId: string): string {
  if (typeof value !== 'string') throw new MfaConfigError('origins', `must hold origin strings such as "https://${rpId}" (got ${typeof value})`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MfaConfigError('origins', `holds "${value}", which is not an origin such as "https://${rpId}"`);
  }
  if (url.origin !== value) {
    throw new MfaConfigError('origins', `holds "${value}": an origin is scheme://host[:port] exactly as a browser reports it (lower case, no path, no trailing slash, no default port), here "${url.origin}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname))) {
    throw new MfaConfigError('origins', `holds "${value}": origins must be https://, except http://localhost[:port] and http://127.0.0.1[:port] for development`);
  }
  if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
    throw new MfaConfigError('origins', `holds "${value}", whose host is neither \`rpId\` (${rpId}) nor a subdomain of it: browsers would refuse every ceremony`);
  }
  return value;
}

/** Checks every option and throws `MfaConfigError` (a `TypeError`) naming the first bad one. */
export function resolveWebAuthnOptions(options: WebAuthnOptions): ResolvedWebAuthnOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new MfaConfigError('options', "must be an object: webauthn({ rpId: 'example.com', rpName: 'Acme', origins: ['https://example.com'] })");
  }
  const raw = options as unknown as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      const hint = closestOptionName(key, KNOWN);
      throw new MfaConfigError(key, `is not a known option of webauthn()${hint ? `. Did you mean \`${hint}\`?` : ''}`);
    }
  }

  const { rpId, rpName, origins } = raw;
  if (typeof rpId !== 'string' || !HOSTNAME.test(rpId)) {
    throw new MfaConfigError('rpId', 'must be a host name in lower case such as example.com or localhost (no scheme, port or path; punycode for IDNs)');
  }
  if (typeof rpName !== 'string' || rpName.trim() === '' || rpName.length > 100) {
    throw new MfaConfigError('rpName', 'must be a non-empty name (at most 100 characters) shown while registering a key, e.g. your site name');
  }
  if (!Array.isArray(origins) || origins.length === 0 || origins.length > 20) {
    throw new MfaConfigError('origins', `must be a non-empty array (at most 20) of origins such as ["https://${rpId}"]`);
  }
  const checked = origins.map((o) => checkOrigin(o, rpId));

  const userVerification = raw.userVerification ?? 'preferred';
  if (userVerification !== 'required' && userVerification !== 'preferred' && userVerification !== 'discouraged') {
    throw new MfaConfigError('userVerification', `must be 'required', 'preferred' or 'discouraged' (got ${String(userVerification)})`);
  }

  const timeoutSeconds = raw.timeoutSeconds ?? 300;
  if (typeof timeoutSeconds !== 'number' || !Number.isInteger(timeoutSeconds) || timeoutSeconds < 30 || timeoutSeconds > 600) {
    throw new MfaConfigError('timeoutSeconds', `must be an integer from 30 to 600 (got ${String(timeoutSeconds)})`);
  }

  if (raw.attestation !== undefined && raw.attestation !== 'none') {
    throw new MfaConfigError('attestation', `must be 'none': attestation statements are not verified yet (got ${String(raw.attestation)})`);
  }

  return { rpId, rpName: rpName.trim(), origins: [...new Set(checked)], userVerification, timeoutSeconds };
}
