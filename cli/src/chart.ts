/** Terminal charts for `linkplane stats`: a horizontal bar chart and a sparkline (pure functions). */

const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** One character per value, scaled between 0 and the largest value. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max === 0 ? BLOCKS[0] : BLOCKS[Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}

/** Rows `label │████▌ value`, bars scaled to `width` columns for the largest value (eighths of a cell). */
export function barChart(rows: readonly { label: string; value: number }[], width = 40): string[] {
  const max = Math.max(0, ...rows.map((r) => r.value));
  const labelWidth = Math.max(0, ...rows.map((r) => r.label.length));
  const valueWidth = Math.max(0, ...rows.map((r) => String(r.value).length));
  return rows.map((r) => {
    const eighths = max === 0 ? 0 : Math.round((r.value / max) * width * 8);
    const bar = '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
    return `${r.label.padEnd(labelWidth)} │${bar.padEnd(width)} ${String(r.value).padStart(valueWidth)}`;
  });
}
