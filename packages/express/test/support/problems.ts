// packages/express/test/support/problems.ts
// Assertions on problem+json answers.
import type { Response } from 'supertest';

/** Checks an RFC 9457 answer: status, content type, stable code, field, no-store, no stack trace. */
export function expectProblem(res: Response, status: number, code: string, field?: string) {
  expect({ status: res.status, code: (res.body as { code?: string }).code, field: (res.body as { field?: string }).field, text: res.text }).toMatchObject({
    status, code, ...(field === undefined ? {} : { field }),
  });
  expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).toMatchObject({ type: `urn:secondfactor:problem:${code}`, status, code, title: expect.any(String) });
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|Error:|node_modules|\/work\//);
}
