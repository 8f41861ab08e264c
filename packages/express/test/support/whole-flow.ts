// packages/express/test/support/whole-flow.ts
// The whole MFA life of one user over HTTP, with its assertions. Run on Express 5 and on
// Express 4, and recorded for the OpenAPI check.
import { PASSWORDS, oathtool, nextCode, setCookies, challengeFor, type Host } from './host-app';

interface Body {
  [key: string]: unknown;
}
const body = (res: { body: unknown }) => res.body as Body;

export async function wholeFlow(host: Host, user = 'alice') {
  const { call } = host;

  // Not enrolled yet: the password alone signs in.
  let res = await call('get', '/mfa/status', { user });
  expect(res.status).toBe(200);
  expect(body(res)).toEqual({ enabled: false, factors: [], backupCodesRemaining: 0, trustedDevices: 0, locked: false });
  res = await host.login(user);
  expect(res.status).toBe(200);
  expect(body(res).session).toBe(`session-of-${user}`);

  // ---- enrol TOTP: the code comes from oathtool at the fake clock's time ----
  res = await call('post', '/mfa/totp/setup', { user, body: { label: 'Pixel 9' } });
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  const { factorId, secret, otpauthUri, qrCode, qrSvg } = body(res) as { factorId: string; secret: string; otpauthUri: string; qrCode: string; qrSvg: string };
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  expect(otpauthUri.startsWith(`otpauth://totp/Acme%20Co:${user}%40example.com?`)).toBe(true);
  expect(otpauthUri).toContain(`secret=${secret}`);
  expect(decodeURIComponent(otpauthUri)).toContain(`Acme Co:${user}@example.com`);
  expect(qrCode).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/);
  expect(qrSvg).toContain('<svg');
  const afterSecret = host.log.length;

  res = await call('post', '/mfa/totp/confirm', { user, body: { factorId, code: oathtool(secret, host.clock.now()) } });
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  const backupCodes = body(res).backupCodes as string[];
  expect(backupCodes).toHaveLength(10);
  expect(body(res).factor).toMatchObject({ id: factorId, type: 'totp', label: 'Pixel 9' });

  res = await call('get', '/mfa/status', { user });
  expect(body(res)).toMatchObject({ enabled: true, backupCodesRemaining: 10, trustedDevices: 0 });
  expect((body(res).factors as Body[]).map((f) => f.id)).toEqual([factorId]);

  // ---- login through the gate: a challenge and nothing else ----
  res = await host.login(user);
  expect(res.status).toBe(200);
  expect(Object.keys(body(res)).sort()).toEqual(['challengeToken', 'expiresAt', 'methods', 'mfaRequired']);
  expect(body(res)).toMatchObject({ mfaRequired: true, methods: ['totp', 'backup_code'] });
  expect(res.headers['set-cookie']).toBeUndefined();
  expect(res.headers['cache-control']).toBe('no-store');
  let challengeToken = body(res).challengeToken as string;

  // ---- verify with "trust this device" ----
  res = await call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: nextCode(host, secret), trustDevice: true } });
  expect(res.status).toBe(200);
  expect(Object.keys(body(res)).sort()).toEqual(['accessToken', 'expiresIn', 'tokenType']);
  expect(body(res).tokenType).toBe('Bearer');
  const cookies = setCookies(res);
  expect(cookies).toHaveLength(1);
  expect(cookies[0]).toMatch(/^__Host-sf_td=[A-Za-z0-9_-]{43}; Max-Age=2592000; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  const deviceCookie = cookies[0]!.split(';')[0]!;
  let accessToken = body(res).accessToken as string;

  // The trusted device skips the next challenge (password still required).
  res = await host.login(user, { Cookie: deviceCookie });
  expect(res.status).toBe(200);
  expect(body(res)).toEqual({ session: `session-of-${user}`, trustedDevice: true });

  res = await call('get', '/mfa/trusted-devices', { user, headers: { Cookie: deviceCookie } });
  expect(res.status).toBe(200);
  const devices = body(res).devices as Body[];
  expect(devices).toHaveLength(1);
  expect(devices[0]).toMatchObject({ current: true, label: 'Firefox on Linux' });

  // ---- step-up: fresh assertion passes, a stale one is refused, re-verification fixes it ----
  res = await call('get', '/admin', { user, headers: { Authorization: `Bearer ${accessToken}` } });
  expect(res.status).toBe(200);
  expect(body(res).mfa).toMatchObject({ userId: user, amr: ['mfa', 'otp'] });
  host.clock.advance(90);
  res = await call('get', '/admin', { user, headers: { Authorization: `Bearer ${accessToken}` } });
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe(
    'Bearer error="insufficient_user_authentication", error_description="A recent second-factor verification is required", max_age=60',
  );
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(body(res)).toMatchObject({ status: 401, code: 'mfa_required', maxAge: 60 });
  res = await call('post', '/mfa/step-up', { user, body: { code: nextCode(host, secret) } });
  expect(res.status).toBe(200);
  expect(body(res)).toMatchObject({ tokenType: 'Bearer', expiresIn: 300 });
  accessToken = body(res).accessToken as string;
  res = await call('get', '/admin', { user, headers: { Authorization: `Bearer ${accessToken}` } });
  expect(res.status).toBe(200);
  expect((body(res).mfa as Body).authTime).toBe(Math.floor(host.clock.now() / 1000) * 1000);

  // ---- forget the device: the next login is challenged again ----
  res = await call('delete', `/mfa/trusted-devices/${devices[0]!.id as string}`, { user });
  expect(res.status).toBe(204);
  res = await call('get', '/mfa/trusted-devices', { user, headers: { Cookie: deviceCookie } });
  expect(body(res)).toEqual({ devices: [] });
  res = await host.login(user, { Cookie: deviceCookie });
  expect(body(res).mfaRequired).toBe(true);

  // ---- backup code login (case- and dash-insensitive), single use ----
  res = await call('post', '/mfa/verify', { body: { challengeToken: body(res).challengeToken, method: 'backup_code', code: backupCodes[0]!.toLowerCase() } });
  expect(res.status).toBe(200);
  challengeToken = await challengeFor(host, user);
  res = await call('post', '/mfa/verify', { body: { challengeToken, method: 'backup_code', code: backupCodes[0] } });
  expect(res.status).toBe(401);
  expect(body(res).code).toBe('invalid_code');
  res = await call('get', '/mfa/status', { user });
  expect(body(res).backupCodesRemaining).toBe(9);

  // ---- regenerate: needs proof in the request; the old set is dead ----
  res = await call('post', '/mfa/backup-codes/regenerate', { user, body: {} });
  expect(res.status).toBe(403);
  expect(body(res).code).toBe('mfa_required');
  res = await call('post', '/mfa/backup-codes/regenerate', { user, body: { code: nextCode(host, secret) } });
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  const newCodes = body(res).backupCodes as string[];
  expect(newCodes).toHaveLength(10);
  expect(newCodes.some((c) => backupCodes.includes(c))).toBe(false);
  challengeToken = await challengeFor(host, user);
  res = await call('post', '/mfa/verify', { body: { challengeToken, method: 'backup_code', code: backupCodes[5] } });
  expect(res.status).toBe(401);
  res = await call('post', '/mfa/verify', { body: { challengeToken, method: 'backup_code', code: newCodes[0] } });
  expect(res.status).toBe(200);

  // ---- add SMS and email factors (MFA is on, so proof is needed) ----
  res = await call('post', '/mfa/sms/setup', { user, body: { phone: '+1 415 555 0123' } });
  expect(res.status).toBe(403);
  expect(body(res).code).toBe('mfa_required');
  res = await call('post', '/mfa/sms/setup', { user, body: { phone: '+1 415 555 0123', code: nextCode(host, secret) } });
  expect(res.status).toBe(200);
  expect(body(res)).toEqual({ factorId: expect.any(String), sentTo: '+1 ••• ••• 0123' });
  const smsFactorId = body(res).factorId as string;
  res = await call('post', '/mfa/sms/confirm', { user, body: { factorId: smsFactorId, code: host.outbox.at(-1)!.code } });
  expect(res.status).toBe(200);
  expect(body(res).backupCodes).toBeUndefined();
  expect(body(res).factor).toMatchObject({ type: 'sms', restricted: true, destination: '+1 ••• ••• 0123' });

  res = await call('post', '/mfa/email/setup', { user, body: { email: `${user}@example.com`, label: 'Work mail', code: nextCode(host, secret) } });
  expect(res.status).toBe(200);
  const emailFactorId = body(res).factorId as string;
  expect(host.outbox.at(-1)).toMatchObject({ to: `${user}@example.com`, purpose: 'enroll' });
  res = await call('post', '/mfa/email/confirm', { user, body: { factorId: emailFactorId, code: host.outbox.at(-1)!.code } });
  expect(res.status).toBe(200);

  // Login with an SMS code, then with an email code.
  challengeToken = await challengeFor(host, user);
  res = await call('post', '/mfa/challenge/sms', { body: { challengeToken } });
  expect(res.status).toBe(202);
  expect(body(res)).toEqual({ sentTo: '+1 ••• ••• 0123' });
  res = await call('post', '/mfa/verify', { body: { challengeToken, method: 'sms', code: host.outbox.at(-1)!.code } });
  expect(res.status).toBe(200);
  host.clock.advance(31); // resend cooldown
  challengeToken = await challengeFor(host, user);
  res = await call('post', '/mfa/challenge/email', { body: { challengeToken } });
  expect(res.status).toBe(202);
  res = await call('post', '/mfa/verify', { body: { challengeToken, method: 'email', code: host.outbox.at(-1)!.code } });
  expect(res.status).toBe(200);

  // ---- remove a factor: needs proof ----
  res = await call('delete', `/mfa/factors/${emailFactorId}`, { user });
  expect(res.status).toBe(403);
  res = await call('delete', `/mfa/factors/${emailFactorId}`, { user, body: { code: nextCode(host, secret) } });
  expect(res.status).toBe(204);
  res = await call('get', '/mfa/status', { user });
  expect((body(res).factors as Body[]).map((f) => f.type).sort()).toEqual(['sms', 'totp']);

  // ---- disable: a password alone is not enough by default; a wrong code is refused, a current one turns everything off ----
  res = await call('post', '/mfa/disable', { user, body: { password: PASSWORDS[user] } });
  expect(res.status).toBe(403);
  expect(body(res).code).toBe('mfa_required');
  res = await call('post', '/mfa/disable', { user, body: { code: '000000' } });
  expect(res.status).toBe(401);
  expect(body(res).code).toBe('invalid_code');
  res = await call('post', '/mfa/disable', { user, body: { code: nextCode(host, secret) } });
  expect(res.status).toBe(204);
  res = await call('get', '/mfa/status', { user });
  expect(body(res)).toEqual({ enabled: false, factors: [], backupCodesRemaining: 0, trustedDevices: 0, locked: false });
  res = await host.login(user);
  expect(body(res)).toEqual({ session: `session-of-${user}`, trustedDevice: false });

  // ---- after enrolment no response ever carried the secret again ----
  const later = host.log.slice(afterSecret);
  expect(later.length).toBeGreaterThan(30); // the flow below the setup made that many calls
  for (const r of later) expect(r.text.includes(secret)).toBe(false);
  // Every router answer is no-store.
  for (const r of host.log.filter((x) => x.path.startsWith('/mfa/'))) expect(r.headers['cache-control']).toBe('no-store');

  return { secret, factorId };
}
