// test/browser/support/browser.ts
// What the example's Chromium suites share: the tools they need (or the suites' rule when one is
// missing), the axe-core accessibility check, and TOTP codes from oathtool that never reuse a step.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { describeNeeding } from '../../support/services';
import { hasTool } from '../../support/tools';

export const CHROMIUM = '/usr/bin/chromium';

/** axe-core, the accessibility engine of Lighthouse and the axe browser extensions. */
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** `describe` when Chromium (and, with `withOtpTools`, zbarimg and oathtool) are installed; else the suites' rule. */
export function browserSuite(options: { withOtpTools: boolean }): (name: string, fn: () => void) => void {
  const missing = [
    fs.existsSync(CHROMIUM) ? null : CHROMIUM,
    ...(options.withOtpTools ? [hasTool('zbarimg') ? null : 'zbarimg', hasTool('oathtool') ? null : 'oathtool'] : []),
  ].filter((x): x is string => x !== null);
  const install = options.withOtpTools ? 'apt-get install chromium zbar-tools oathtool' : 'apt-get install chromium';
  return describeNeeding(missing.length === 0 ? null : `${missing.join(', ')} (${install})`);
}

/**
 * Runs axe-core on the page as it is now and fails on any serious or critical violation.
 * (`page.addScriptTag` would add an inline <script>, which the app's CSP refuses; a script
 * evaluated through the DevTools protocol is not subject to the page's CSP.)
 */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: Array<{ id: string; impact?: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const results = await axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  const severe = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect({ page: name, violations: severe }).toEqual({ page: name, violations: [] });
}

/** TOTP codes from oathtool, never reusing a time step (the server refuses replays): waits for the next step when needed. */
export function totpSource(secret: string) {
  let lastStep = -1;
  return async function nextCode(): Promise<string> {
    const nowStep = Math.floor(Date.now() / 1000 / 30);
    const step = Math.max(nowStep, lastStep + 1);
    // The server accepts one step ahead; for a later step, wait until it is at most one step ahead.
    const waitMs = (step - 1) * 30_000 - Date.now();
    if (step > nowStep + 1 && waitMs > 0) await new Promise((r) => setTimeout(r, waitMs + 250));
    lastStep = step;
    return execFileSync('oathtool', ['--totp', '-b', '-N', `@${step * 30}`, secret], { encoding: 'utf8' }).trim();
  };
}
