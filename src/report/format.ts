/** Renderers shared by every command's human output: plain tables (no colour, so NO_COLOR holds trivially). */
import Table from 'cli-table3';

export type Cell = string | number | boolean | null | undefined;

export function table(head: string[], rows: Cell[][], align?: ('left' | 'right')[]): string {
  const t = new Table({ head, style: { head: [], border: [], compact: true }, ...(align ? { colAligns: align } : {}) });
  for (const row of rows) t.push(row.map(cell));
  return t.toString();
}

/** A two-column table of labels and values. */
export function keyValues(rows: [string, Cell][]): string {
  const t = new Table({ style: { head: [], border: [], compact: true } });
  for (const [key, value] of rows) t.push({ [key]: cell(value) });
  return t.toString();
}

function cell(value: Cell): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return formatNumber(value);
  return String(value);
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  // toPrecision switches to exponent form at 1e4; larger values keep one decimal instead.
  if (abs >= 1000) return value.toFixed(1);
  return value.toPrecision(4).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`;
}

/** A similarity close to 1 with enough digits to see how close: 0.99999871, not 1. */
export function formatCosine(value: number): string {
  if (!Number.isFinite(value) || value === 1 || value <= 0.99) return formatNumber(value);
  const digits = Math.min(8, Math.ceil(-Math.log10(1 - value)) + 2);
  return value.toFixed(digits);
}

/** A tolerance as people write it: 1e-5, 0.05, 2. */
export function formatTolerance(value: number): string {
  return value !== 0 && Math.abs(value) < 0.01 ? value.toExponential() : String(value);
}

/** `value` to `digits` decimals, for figures whose further digits are noise. */
export function round(value: number, digits: number): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}
