// examples/express-app/src/openapi.ts
// GET /mfa/openapi.json: the OpenAPI 3.1 description of secondfactor's routes (docs/openapi.yaml,
// converted to JSON once, at the first request), so API users can browse it with any OpenAPI viewer.
// A host outside this repository copies docs/openapi.yaml into its build and serves it the same way.
import fs from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { parse } from 'yaml';

export const OPENAPI_YAML = path.resolve(__dirname, '..', '..', '..', 'docs', 'openapi.yaml');

export function openApiDocument(file = OPENAPI_YAML): RequestHandler {
  let json: string | undefined;
  return function serveOpenApi(_req, res) {
    json ??= JSON.stringify(parse(fs.readFileSync(file, 'utf8')));
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/json').send(json);
  };
}
