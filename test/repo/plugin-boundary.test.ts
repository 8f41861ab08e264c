// test/repo/plugin-boundary.test.ts
// The test of the plugin design at the level of the sources (issue #10): core's flows and the
// Express integration dispatch only through the registry — no file there names a factor type —
// and nothing in core or express names WebAuthn, which lives in its own package.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const offending = (paths: string[], pattern: RegExp) =>
  paths
    .flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .map((line, i) => [path, i + 1, line] as const),
    )
    .filter(([, , line]) => pattern.test(line))
    .map(([path, n, line]) => `${relative(ROOT, path)}:${n}: ${line.trim()}`);

test('no file under packages/core/src or packages/express/src names WebAuthn', () => {
  const sources = [...files(join(ROOT, 'packages/core/src')), ...files(join(ROOT, 'packages/express/src'))];
  expect(sources.length).toBeGreaterThan(40);
  expect(offending(sources, /webauthn/i)).toEqual([]);
});

test("core's flows and the Express integration name no factor type: they dispatch through the registry", () => {
  const sources = [...files(join(ROOT, 'packages/core/src/flows')), ...files(join(ROOT, 'packages/express/src'))];
  expect(sources.length).toBeGreaterThan(20);
  expect(offending(sources, /['"`/](totp|sms|email|backup_code|backup-code)['"`/]/)).toEqual([]);
});
