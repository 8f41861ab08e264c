// examples/express-app/src/stats-chart.ts
// The admin page's figures: verifications and failures per day as a plain inline SVG bar chart
// (no chart library, no script; colours are SVG attributes, allowed by the CSP), with a title and
// a description for screen readers, and the same figures as a table.
import type { AdminStats } from '@secondfactor/core';

const WIDTH = 640;
const HEIGHT = 220;
const PLOT = { left: 44, right: 12, top: 14, bottom: 36 };
const COLORS = { verifications: '#4f46e5', failures: '#c0262d', grid: '#e3e5ee', text: '#4b5163' };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `2026-01-05` → `5 Jan` (the days come from the engine as UTC dates). */
function shortDay(day: string): string {
  const m = /^\d{4}-(\d{2})-(\d{2})$/.exec(day);
  return m ? `${Number(m[2])} ${MONTHS[Number(m[1]) - 1]}` : '';
}

/** The smallest of 1, 2, 5 × 10^k at least `value` (so the gridlines fall on round numbers). */
function niceMax(value: number): number {
  if (value <= 2) return 2;
  const p = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((f) => f * p).find((v) => v >= value)!;
}

const n = (value: number) => Number(value.toFixed(1));

export function statsChart(stats: AdminStats): string {
  const days = stats.days;
  const plotW = WIDTH - PLOT.left - PLOT.right;
  const plotH = HEIGHT - PLOT.top - PLOT.bottom;
  const max = niceMax(Math.max(0, ...days.flatMap((d) => [d.verifications, d.failures])));
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.min(16, slot * 0.38);
  const y = (value: number) => PLOT.top + plotH - (value / max) * plotH;
  const totalOk = days.reduce((s, d) => s + d.verifications, 0);
  const totalFailed = days.reduce((s, d) => s + d.failures, 0);
  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  const labelEvery = Math.max(1, Math.ceil(days.length / 8));

  const grid = [0, max / 2, max].map((v) => `<line x1="${PLOT.left}" x2="${WIDTH - PLOT.right}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="${COLORS.grid}"/>
    <text x="${PLOT.left - 6}" y="${n(y(v) + 4)}" text-anchor="end" font-size="11" fill="${COLORS.text}">${v}</text>`).join('\n    ');
  const bars = days.map((d, i) => {
    const mid = PLOT.left + i * slot + slot / 2;
    const bar = (kind: 'verifications' | 'failures', value: number, x: number) =>
      `<rect class="bar bar-${kind}" data-day="${d.day}" data-value="${value}" x="${n(x)}" y="${n(y(value))}" width="${n(barW)}" height="${n(plotH - (y(value) - PLOT.top))}" fill="${COLORS[kind]}"><title>${d.day}: ${value} ${kind}</title></rect>`;
    const label = (days.length - 1 - i) % labelEvery === 0 // counted from the last day, which always has its label
      ? `<text x="${n(mid)}" y="${HEIGHT - PLOT.bottom + 16}" text-anchor="middle" font-size="11" fill="${COLORS.text}">${shortDay(d.day)}</text>`
      : '';
    return `${bar('verifications', d.verifications, mid - barW - 1)}${bar('failures', d.failures, mid + 1)}${label}`;
  }).join('\n    ');

  const rows = days.map((d) => `<tr><th scope="row">${d.day}</th><td>${d.verifications}</td><td>${d.failures}</td><td>${d.locks}</td></tr>`).join('\n        ');
  return `<figure class="chart">
  <svg id="stats-chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" role="img" aria-labelledby="stats-chart-title stats-chart-desc" data-days="${days.length}">
    <title id="stats-chart-title">Second-factor verifications and failures per day</title>
    <desc id="stats-chart-desc">${days.length} days from ${first} to ${last}: ${totalOk} successful verifications and ${totalFailed} failures in all.</desc>
    ${grid}
    ${bars}
  </svg>
  <figcaption class="legend">
    <span><span class="swatch verifications" aria-hidden="true"></span>Verifications (${totalOk})</span>
    <span><span class="swatch failures" aria-hidden="true"></span>Failures (${totalFailed})</span>
  </figcaption>
</figure>
<details class="figures">
  <summary>The figures as a table</summary>
  <table>
    <caption>Verifications, failures and locks per day (UTC)</caption>
    <thead><tr><th scope="col">Day</th><th scope="col">Verifications</th><th scope="col">Failures</th><th scope="col">Locks</th></tr></thead>
    <tbody>
        ${rows}
    </tbody>
  </table>
</details>`;
}
