// Aligned text columns. Cells may carry ANSI colour; widths count visible characters only.
import { padVisible, visibleLength } from './render-style.ts';

/** Rows of already-painted cells; the last column is not padded (no trailing spaces). */
export function renderTable(rows: readonly (readonly string[])[], gap = 2): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : padVisible(cell, (widths[i] ?? 0) + gap)))
        .join('')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}
