// The TOTP enrolment's QR code is rendered when it is first read, not when the enrolment starts
// (issue #13: rendering was most of an enrolment's cost, under Jest's VM most of all), and once:
// `qrCode` and `qrSvg` come from one rendering. Whoever reads the result — a spread, JSON (the
// setup route), structuredClone — gets the same strings as an eager rendering would give.
import { randomBytes } from 'node:crypto';
import { totp } from '@secondfactor/core';
import * as qr from '../src/factors/totp/qr-code';
import { setup } from './support/harness';

jest.mock('../src/factors/totp/qr-code', () => {
  const actual = jest.requireActual('../src/factors/totp/qr-code');
  return { ...actual, renderQrCode: jest.fn(actual.renderQrCode) };
});
const render = qr.renderQrCode as jest.MockedFunction<typeof qr.renderQrCode>;
const realRender: typeof qr.renderQrCode = jest.requireActual('../src/factors/totp/qr-code').renderQrCode;

beforeEach(() => render.mockClear());

async function begin() {
  const ctx = { issuer: 'Acme', randomBytes: (n: number) => new Uint8Array(randomBytes(n)) } as never;
  const begun = await totp().enroll!.begin(ctx, { userId: 'alice', factorId: 'f1', input: null, accountName: 'alice@example.com', existing: [] });
  return begun.show as { secret: string; otpauthUri: string; qrCode: string; qrSvg: string };
}

test('beginning an enrolment renders nothing; the first read of qrCode or qrSvg renders both, once', async () => {
  const show = await begin();
  expect(render).not.toHaveBeenCalled();
  const png = show.qrCode;
  expect(render).toHaveBeenCalledTimes(1);
  expect(render).toHaveBeenCalledWith(show.otpauthUri);
  const svg = show.qrSvg;
  expect(show.qrCode).toBe(png);
  expect(render).toHaveBeenCalledTimes(1);
  expect({ png, svg }).toEqual(realRender(show.otpauthUri));
  expect(png).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/=]+$/);
  expect(svg).toMatch(/^<svg /);

  const other = await begin();
  expect(other.qrSvg).toBe(realRender(other.otpauthUri).svg); // qrSvg first works as well
  expect(render).toHaveBeenCalledTimes(2);
});

test('the lazy fields are ordinary enumerable properties to a spread, JSON and structuredClone', async () => {
  const show = await begin();
  const { png, svg } = realRender(show.otpauthUri);
  expect(Object.keys(show)).toEqual(['secret', 'otpauthUri', 'qrCode', 'qrSvg']);
  expect(JSON.parse(JSON.stringify(show))).toEqual({ secret: show.secret, otpauthUri: show.otpauthUri, qrCode: png, qrSvg: svg });
  expect(structuredClone(show)).toEqual({ secret: show.secret, otpauthUri: show.otpauthUri, qrCode: png, qrSvg: svg });
  expect({ ...show, factorId: 'f1' }).toEqual({ secret: show.secret, otpauthUri: show.otpauthUri, qrCode: png, qrSvg: svg, factorId: 'f1' });
  expect(render).toHaveBeenCalledTimes(1);
});

test('mfa.enroll: the result carries the QR code as plain strings, rendered at most once', async () => {
  const h = setup();
  const e = await h.mfa.enroll('alice', 'totp', { accountName: 'alice@example.com' });
  expect(render).not.toHaveBeenCalled(); // nothing read yet: nothing rendered
  const json = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
  expect(Object.keys(json).sort()).toEqual(['factorId', 'otpauthUri', 'qrCode', 'qrSvg', 'secret']);
  expect([json.qrCode, json.qrSvg]).toEqual([e.qrCode, e.qrSvg]);
  expect({ png: e.qrCode, svg: e.qrSvg }).toEqual(realRender(e.otpauthUri));
  expect(render).toHaveBeenCalledTimes(1);
});

test('like ordinary properties, the lazy fields can be deleted or replaced (a host that draws its own QR code drops them, unrendered)', async () => {
  const h = setup();
  const e = await h.mfa.enroll('alice', 'totp', { accountName: 'alice@example.com' });
  const show = await begin();
  for (const o of [e, show] as Record<string, unknown>[]) {
    expect(delete o.qrSvg).toBe(true);
    Object.defineProperty(o, 'qrCode', { value: 'drawn by the host', enumerable: true });
    expect(Object.keys(o)).not.toContain('qrSvg');
    expect(o.qrCode).toBe('drawn by the host');
  }
  expect(render).not.toHaveBeenCalled();
});
