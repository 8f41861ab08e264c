// packages/webauthn/test/http.test.ts
// WebAuthn through the real engine and router (express's host app, memory store), driven by the
// software authenticator as a browser would: enrolment of several keys, login, step-up, fresh
// proof for removal, backup-code regeneration and turning MFA off — and what never leaks into events.
import { expectProblem } from '../../express/test/support/problems';
import { enrolKey, eventsJson, keyProof, loginOptions, ORIGIN, setupKey, startLogin, userOptions, verify, webauthnHost } from './support/http';
import { SoftAuthenticator } from './support/soft-authenticator';

/** Every public key (and credential id, user handle), challenge and signature the test saw, to look for in the events. */
function secretsOf(keys: SoftAuthenticator[], seen: { challenges: string[]; signatures: string[] }): string[] {
  return [
    ...keys.flatMap((k) => k.credentials.flatMap((c) => [Buffer.from(c.cosePublicKey).toString('base64url'), c.id, c.userHandle])),
    ...seen.challenges,
    ...seen.signatures,
  ];
}

test('enrolment over HTTP: named keys, listed as phishing-resistant, excludeCredentials = the user\'s keys, fresh proof for a second key', async () => {
  const host = webauthnHost();
  const usb = new SoftAuthenticator();
  const phone = new SoftAuthenticator({ synced: true, counts: false, transports: ['internal', 'hybrid'] });
  const seen = { challenges: [] as string[], signatures: [] as string[] };

  // First key: no proof needed while MFA is off; creation options for this rp and user, nothing excluded.
  const first = await setupKey(host, 'alice', { label: 'YubiKey 5' });
  expect(first.options).toMatchObject({ rp: { id: 'localhost', name: 'Acme' }, user: { name: 'alice@example.com' }, attestation: 'none', excludeCredentials: [] });
  seen.challenges.push(first.options.challenge);
  const confirmed = await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId: first.factorId, response: usb.create(first.options, { origin: ORIGIN }) } });
  expect(confirmed.status).toBe(200);
  expect(confirmed.body).toMatchObject({ factor: { id: first.factorId, type: 'webauthn', label: 'YubiKey 5', kind: 'security key', phishingResistant: true, restricted: false } });
  expect((confirmed.body as { backupCodes: string[] }).backupCodes).toHaveLength(10);

  // A second key while MFA is on: setup without proof is refused, and creates nothing.
  const noProof = await host.call('post', '/mfa/webauthn/setup', { user: 'alice', body: { label: 'Phone' } });
  expectProblem(noProof, 403, 'mfa_required');
  expect((await host.h.store.listFactors('alice')).filter((f) => f.status === 'pending')).toEqual([]);

  // With the first key as fresh proof: the options exclude it (with its transports), so the same authenticator cannot register twice.
  const proof = await keyProof(host, 'alice', usb);
  seen.signatures.push(proof.response.response.signature);
  const second = await setupKey(host, 'alice', { label: 'Phone', ...proof });
  seen.challenges.push(second.options.challenge);
  expect(second.options.excludeCredentials).toEqual([{ id: usb.credentials[0]!.id, type: 'public-key', transports: ['usb'] }]);
  expect(second.options.user.id).toBe(first.options.user.id);
  expect(() => usb.create(second.options, { origin: ORIGIN })).toThrow(/InvalidStateError/);
  const confirmed2 = await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId: second.factorId, response: phone.create(second.options, { origin: ORIGIN }) } });
  expect(confirmed2.status).toBe(200);
  expect(confirmed2.body).toMatchObject({ factor: { label: 'Phone', kind: 'passkey', phishingResistant: true } });
  expect(confirmed2.body).not.toHaveProperty('backupCodes');

  // The proof was single use: the same response again does not prove anything.
  const reused = await host.call('post', '/mfa/webauthn/setup', { user: 'alice', body: { label: 'Again', ...proof } });
  expectProblem(reused, 401, 'invalid_code');

  // A third key's options exclude both.
  const third = await setupKey(host, 'alice', await keyProof(host, 'alice', phone));
  expect(third.options.excludeCredentials!.map((c) => c.id).sort()).toEqual([usb.credentials[0]!.id, phone.credentials[0]!.id].sort());

  const status = await host.call('get', '/mfa/status', { user: 'alice' });
  expect(status.status).toBe(200);
  expect(status.body).toMatchObject({ enabled: true, backupCodesRemaining: 10 });
  const listed = (status.body as { factors: { label: string }[] }).factors;
  expect([...listed].sort((x, y) => x.label.localeCompare(y.label))).toMatchObject([
    { type: 'webauthn', label: 'Phone', kind: 'passkey', phishingResistant: true },
    { type: 'webauthn', label: 'YubiKey 5', kind: 'security key', phishingResistant: true },
  ]);
  // Status shows no key material.
  expect(status.text).not.toContain(usb.credentials[0]!.id);
  expect(host.events.length).toBeGreaterThan(5);
  for (const secret of secretsOf([usb, phone], seen)) expect(eventsJson(host)).not.toContain(secret);
  expect(host.hostErrors).toEqual([]);
  expect(host.routerErrors).toEqual([]);
});

test('login over HTTP: gate → /challenge/webauthn with the token → /verify; amr hwk/swk, plus user when the key verified the user', async () => {
  const host = webauthnHost();
  const usb = new SoftAuthenticator();
  const phone = new SoftAuthenticator({ synced: true, counts: false, transports: ['internal'] });
  await enrolKey(host, 'alice', usb, { label: 'USB' });
  await enrolKey(host, 'alice', phone, { label: 'Phone', ...(await keyProof(host, 'alice', usb)) });
  const seen = { challenges: [] as string[], signatures: [] as string[] };

  const gate = await host.login('alice');
  expect(gate.body).toMatchObject({ mfaRequired: true, methods: ['webauthn', 'backup_code'] });
  const token = (gate.body as { challengeToken: string }).challengeToken;
  const options = await loginOptions(host, token);
  seen.challenges.push(options.challenge);
  expect(options).toMatchObject({ rpId: 'localhost', userVerification: 'preferred' });
  expect(options.allowCredentials!.map((c) => c.id).sort()).toEqual([usb.credentials[0]!.id, phone.credentials[0]!.id].sort());
  expect(Buffer.from(options.challenge, 'base64url')).toHaveLength(32);

  // A device-bound key that verified the user: hwk + user.
  const response = usb.get(options, { origin: ORIGIN });
  seen.signatures.push(response.response.signature);
  const ok = await verify(host, token, response);
  expect(ok.status).toBe(200);
  const accessToken = (ok.body as { accessToken: string }).accessToken;
  expect(await host.mfa.assertions.verify(accessToken)).toMatchObject({ ok: true, userId: 'alice', amr: ['mfa', 'hwk', 'user'] });
  expect(host.events.find((e) => e.type === 'mfa.verified' && e.purpose === 'login')).toMatchObject({ userId: 'alice', factorType: 'webauthn', outcome: 'success' });
  const stored = (await host.h.store.listFactors('alice')).find((f) => f.data.credentialId === usb.credentials[0]!.id)!;
  expect(stored.counter).toBe(usb.credentials[0]!.signCount);
  expect(stored.lastUsedAt).toBe(host.clock.now());

  // A synced passkey without user verification: swk only.
  const token2 = await startLogin(host, 'alice');
  const options2 = await loginOptions(host, token2);
  seen.challenges.push(options2.challenge);
  const passkeyResponse = phone.get(options2, { origin: ORIGIN, credentialId: phone.credentials[0]!.id, uv: false });
  seen.signatures.push(passkeyResponse.response.signature);
  const ok2 = await verify(host, token2, passkeyResponse, { trustDevice: true });
  expect(ok2.status).toBe(200);
  expect(await host.mfa.assertions.verify((ok2.body as { accessToken: string }).accessToken)).toMatchObject({ ok: true, amr: ['mfa', 'swk'] });
  // Trusted device: the next login skips the second step.
  const cookie = String((ok2.headers['set-cookie'] as unknown as string[])[0]).split(';')[0]!;
  expect((await host.login('alice', { cookie })).body).toMatchObject({ session: 'session-of-alice', trustedDevice: true });

  for (const secret of secretsOf([usb, phone], seen)) expect(eventsJson(host)).not.toContain(secret);
  expect(host.routerErrors).toEqual([]);
});

test('step-up over HTTP: /challenge/webauthn without a token → /step-up → requireMfa accepts the fresh assertion', async () => {
  const host = webauthnHost();
  const usb = new SoftAuthenticator();
  await enrolKey(host, 'alice', usb);

  expect((await host.call('get', '/admin', { user: 'alice' })).status).toBe(401);
  const options = await userOptions(host, 'alice');
  expect(options.allowCredentials!.map((c) => c.id)).toEqual([usb.credentials[0]!.id]);
  const response = usb.get(options, { origin: ORIGIN });
  const up = await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response } });
  expect(up.status).toBe(200);
  const fresh = (up.body as { accessToken: string }).accessToken;
  const admin = await host.call('get', '/admin', { user: 'alice', headers: { authorization: `Bearer ${fresh}` } });
  expect(admin.status).toBe(200);
  expect(admin.body).toMatchObject({ mfa: { userId: 'alice', amr: ['mfa', 'hwk', 'user'] } });

  // The step-up challenge is single use: the same response again is refused.
  const again = await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response } });
  expectProblem(again, 401, 'invalid_code');
  // Another user's session cannot use alice's options: bob has no key.
  const bob = await host.call('post', '/mfa/challenge/webauthn', { user: 'bob', body: {} });
  expectProblem(bob, 404, 'not_enrolled');
  // Without a session and without a token: which one is missing is named.
  expectProblem(await host.call('post', '/mfa/challenge/webauthn', { body: {} }), 400, 'invalid_request', 'challengeToken');
});

test('fresh proof by a key over HTTP: remove a key, regenerate backup codes, turn MFA off', async () => {
  const host = webauthnHost();
  const usb = new SoftAuthenticator();
  const nfc = new SoftAuthenticator({ transports: ['nfc'] });
  const a = await enrolKey(host, 'alice', usb, { label: 'USB' });
  const b = await enrolKey(host, 'alice', nfc, { label: 'NFC', ...(await keyProof(host, 'alice', usb)) });
  const seen = { challenges: [] as string[], signatures: [] as string[] };

  // No proof: refused. A session alone is never enough.
  expectProblem(await host.call('delete', `/mfa/factors/${b.factorId}`, { user: 'alice', body: {} }), 403, 'mfa_required');

  // Remove the NFC key with the USB key's assertion.
  const removeProof = await keyProof(host, 'alice', usb);
  seen.signatures.push(removeProof.response.response.signature);
  const removed = await host.call('delete', `/mfa/factors/${b.factorId}`, { user: 'alice', body: removeProof });
  expect(removed.status).toBe(204);
  expect((await host.h.store.listFactors('alice')).map((f) => f.id)).toEqual([a.factorId]);
  expect(host.events.some((e) => e.type === 'factor.removed' && e.factorId === b.factorId)).toBe(true);
  // The removed key no longer proves anything (it is not among the allowed credentials, nor accepted).
  const options = await userOptions(host, 'alice');
  expect(options.allowCredentials!.map((c) => c.id)).toEqual([usb.credentials[0]!.id]);
  const byRemoved = await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response: nfc.get(options, { origin: ORIGIN, credentialId: nfc.credentials[0]!.id }) } });
  expectProblem(byRemoved, 401, 'invalid_code');

  // Regenerate backup codes with the key.
  const before = (await host.call('get', '/mfa/status', { user: 'alice' })).body as { backupCodesRemaining: number };
  expect(before.backupCodesRemaining).toBe(10);
  const regen = await host.call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: await keyProof(host, 'alice', usb) });
  expect(regen.status).toBe(200);
  expect((regen.body as { backupCodes: string[] }).backupCodes).toHaveLength(10);
  expect((regen.body as { backupCodes: string[] }).backupCodes).not.toEqual(a.backupCodes);
  expect(a.backupCodes).toHaveLength(10);

  // Turn MFA off with the key: everything goes, login needs no second step.
  const off = await host.call('post', '/mfa/disable', { user: 'alice', body: await keyProof(host, 'alice', usb) });
  expect(off.status).toBe(204);
  expect((await host.call('get', '/mfa/status', { user: 'alice' })).body).toMatchObject({ enabled: false, factors: [], backupCodesRemaining: 0 });
  expect((await host.login('alice')).body).toMatchObject({ session: 'session-of-alice' });

  for (const secret of secretsOf([usb, nfc], seen)) expect(eventsJson(host)).not.toContain(secret);
  expect(host.routerErrors).toEqual([]);
});
