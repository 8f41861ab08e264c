// TOTP at the edges mutation testing found unasserted (issue #14): which step a code that matches
// twice in the window is accepted at, and the messages of a refused otpauth label.
import { createTotpKeyUri, generateTotpForStep, verifyTotp } from '@secondfactor/core';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const W = { pastSteps: 1, futureSteps: 1 };
const at = (step: number) => generateTotpForStep(SECRET, step, P);
const midStep = (step: number) => step * 30_000 + 15_000;

describe('a code that two steps of the window share', () => {
  // Found by scanning this secret's steps: 6-digit codes repeat about once per million steps.
  const S1 = 57_766_335; // code(S1) = code(S1 + 1)
  const S2 = 57_017_782; // code(S2) = code(S2 + 2)

  test('the steps really share their code (the premise of the tests below)', async () => {
    expect(await at(S1)).toBe(await at(S1 + 1));
    expect(await at(S2)).toBe(await at(S2 + 2));
    expect(await at(S2 + 1)).not.toBe(await at(S2));
  });

  test('is accepted at the earliest fresh step, so the later step stays usable', async () => {
    const code = await at(S1);
    expect(await verifyTotp({ secret: SECRET, code, nowMs: midStep(S1 + 1), window: W, afterStep: null, ...P })).toEqual({ ok: true, step: S1 });
    const code2 = await at(S2);
    expect(await verifyTotp({ secret: SECRET, code: code2, nowMs: midStep(S2 + 1), window: W, afterStep: null, ...P })).toEqual({ ok: true, step: S2 });
    expect(await verifyTotp({ secret: SECRET, code: code2, nowMs: midStep(S2 + 1), window: W, afterStep: S2 - 5, ...P })).toEqual({ ok: true, step: S2 });
  });

  test('once the earlier step is used, the later one is the fresh match (not "replayed")', async () => {
    const code = await at(S1);
    expect(await verifyTotp({ secret: SECRET, code, nowMs: midStep(S1 + 1), window: W, afterStep: S1, ...P })).toEqual({ ok: true, step: S1 + 1 });
    expect(await verifyTotp({ secret: SECRET, code, nowMs: midStep(S1 + 1), window: W, afterStep: S1 + 1, ...P })).toEqual({ ok: false, reason: 'replayed' });
  });
});

test('a refused otpauth label says which part holds the ":"', () => {
  const base = { issuer: 'Acme', accountName: 'alice', secret: 'GEZDGNBV', ...P };
  expect(() => createTotpKeyUri({ ...base, issuer: 'Acme:Co' })).toThrow('issuer must not contain ":"');
  expect(() => createTotpKeyUri({ ...base, accountName: 'a:b' })).toThrow('accountName must not contain ":"');
});
