/** Plain-text tables and number formats shared by the CLI's listing commands. */

export type Align = 'left' | 'right';

/** Pads every column to its widest cell; columns are separated by two spaces. */
export function formatTable(header: string[], rows: string[][], align: Align[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c]) : c === cells.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** 25557032 -> '25,557,032' */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** 4089184256 -> '4.09 G', 442368 -> '442.37 k' (decimal units, as the published tables use). */
export function formatSi(n: number): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  let i = units.findIndex(([scale]) => Math.abs(n) >= scale);
  if (i < 0) return String(n);
  if (i > 0 && Math.abs(n / units[i][0]).toFixed(2) === '1000.00') i--; // 999,999 -> '1.00 M', not '1000.00 k'
  return `${(n / units[i][0]).toFixed(2)} ${units[i][1]}`;
}

/** 3 significant digits with a decimal unit: 25557032 -> '25.6 M', 288746 -> '289 k', 8 -> '8'. */
export function formatCompact(n: number): string {
  for (const [scale, unit] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) {
    const rounded = Number((n / scale).toPrecision(3));
    if (rounded >= 1) return `${rounded} ${unit}`; // 999,999 -> '1 M', not '1000 k'
  }
  return String(n);
}

/** Bytes in binary units: '588.0 KiB', '107.6 MiB'. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatShape(shape: readonly number[]): string {
  return shape.join('x');
}
