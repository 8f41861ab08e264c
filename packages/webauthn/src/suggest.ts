// packages/webauthn/src/suggest.ts
// "Did you mean …?" for a mistyped option name (the same rule as core's options: edit distance ≤ 2).

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/** The known name closest to `name` (case-insensitive), when at most two edits away. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = editDistance(lower, key.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { key, d };
  }
  return best?.key;
}
