// test/support/tools.ts
// Real clients nobody here wrote: oathtool (TOTP generator) and zbarimg (QR decoder).
// Missing in CI → the test fails; elsewhere → skipped with one loud line.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when `name` is on the PATH. */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** `test` when the tool exists; in CI a failing test otherwise; elsewhere a loud skip. */
export function testWithTool(tool: string): jest.It {
  if (hasTool(tool)) return test;
  if (process.env.CI) {
    return ((name: string) => test(name, () => {
      throw new Error(`${tool} is not installed (CI=true: failing instead of skipping; apt-get install ${tool === 'zbarimg' ? 'zbar-tools' : tool})`);
    })) as unknown as jest.It;
  }
  console.warn(`\n!!! SKIPPED tests needing ${tool}: not installed\n`);
  return test.skip;
}

/** The TOTP code oathtool computes for `secret` (base32) at `epochSeconds`. */
export function oathtoolTotp(secret: string, epochSeconds: number, opts: { digits?: number; algorithm?: string } = {}): string {
  const args = ['--totp' + (opts.algorithm ? `=${opts.algorithm}` : ''), '-b', '-N', `@${epochSeconds}`];
  if (opts.digits) args.push('-d', String(opts.digits));
  args.push(secret);
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
}

/** Decodes a `data:image/png;base64,` QR code with zbarimg and returns the text. */
export function zbarDecodeDataUrl(dataUrl: string): string {
  const png = Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64');
  const file = join(mkdtempSync(join(tmpdir(), 'sf-qr-')), 'qr.png');
  writeFileSync(file, png);
  return execFileSync('zbarimg', ['-q', '--raw', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}
