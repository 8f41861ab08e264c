// packages/express/test/concurrency.test.ts
// Single use under concurrency, over HTTP: one valid code on one challenge sent 20 times in
// parallel logs in once; one backup code sent on 20 different challenges in parallel logs in once.
import { challengeFor, enrolTotpOverHttp, hostApp, nextCode } from './support/host-app';

const N = 20;

function tally(statuses: number[]) {
  const counts: Record<number, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}

test(`${N} parallel /verify with one valid TOTP code on one challenge → exactly one 200`, async () => {
  const host = hostApp();
  const { secret } = await enrolTotpOverHttp(host, 'alice');
  const challengeToken = await challengeFor(host, 'alice');
  const code = nextCode(host, secret);
  const results = await Promise.all(
    Array.from({ length: N }, () => host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code } })),
  );
  const counts = tally(results.map((r) => r.status));
  expect(counts[200]).toBe(1);
  // Every loser is a clean refusal, never a 5xx.
  for (const r of results.filter((x) => x.status !== 200)) {
    expect([401, 429]).toContain(r.status);
    expect(['invalid_code', 'challenge_expired', 'too_many_attempts']).toContain((r.body as { code: string }).code);
  }
  expect(host.events.filter((e) => e.type === 'mfa.verified')).toHaveLength(1);
});

test(`${N} parallel logins, each on its own challenge, with the same backup code → exactly one 200`, async () => {
  const host = hostApp();
  const { backupCodes } = await enrolTotpOverHttp(host, 'alice');
  const tokens: string[] = [];
  for (let i = 0; i < N; i++) tokens.push(await challengeFor(host, 'alice'));
  expect(new Set(tokens).size).toBe(N);
  const results = await Promise.all(
    tokens.map((challengeToken) => host.call('post', '/mfa/verify', { body: { challengeToken, method: 'backup_code', code: backupCodes[3] } })),
  );
  const counts = tally(results.map((r) => r.status));
  expect(counts[200]).toBe(1);
  for (const r of results.filter((x) => x.status !== 200)) expect([401, 429]).toContain(r.status);
  expect(host.events.filter((e) => e.type === 'backup_code.used')).toHaveLength(1);
  const status = await host.call('get', '/mfa/status', { user: 'alice' });
  expect((status.body as { backupCodesRemaining: number }).backupCodesRemaining).toBe(9);
});
