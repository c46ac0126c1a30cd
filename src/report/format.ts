/** Renderers shared by every command's human output: plain tables (no colour, so NO_COLOR holds trivially). */
import Table from 'cli-table3';

export type Cell = string | number | boolean | null | undefined;

/**
 * The width tables must fit, in characters: the terminal's, set once by the CLI when stdout is a
 * terminal; undefined (a file, a pipe, a library caller) leaves every table at its full width.
 */
let tableWidth: number | undefined;

export function setTableWidth(columns: number | undefined): void {
  tableWidth = columns && columns > 0 ? columns : undefined;
}

export function getTableWidth(): number | undefined {
  return tableWidth;
}

/** A column narrower than this is no longer worth reading; text is cut no further. */
const MIN_TEXT_COLUMN = 8;

/** The width of each column (padding included) once cells are laid out: the widest cell plus 2. */
function naturalWidths(rows: string[][]): number[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((text, i) => (widths[i] = Math.max(widths[i] ?? 0, ...text.split('\n').map((l) => [...l].length + 2))));
  return widths;
}

/** How wide a table of these cells is at full width, borders included. */
export function naturalTableWidth(rows: string[][]): number {
  const widths = naturalWidths(rows);
  return widths.reduce((a, b) => a + b, 0) + widths.length + 1;
}

/**
 * Column widths that fit `width`: the widest left-aligned (text) columns give up characters first,
 * cut with '…' by cli-table3; numbers (right-aligned) are never cut. Undefined when all fits.
 */
export function fitColumns(rows: string[][], align: ('left' | 'right')[], width = tableWidth): number[] | undefined {
  if (width === undefined) return undefined;
  const widths = naturalWidths(rows);
  let total = naturalTableWidth(rows);
  if (total <= width) return undefined;
  while (total > width) {
    const text = widths.map((w, i) => (align[i] === 'right' ? -1 : w));
    const widest = text.indexOf(Math.max(...text));
    if (widest < 0 || widths[widest] <= MIN_TEXT_COLUMN) break;
    widths[widest]--;
    total--;
  }
  return widths;
}

export function table(head: string[], rows: Cell[][], align: ('left' | 'right')[] = []): string {
  const body = rows.map((row) => row.map(cell));
  const colWidths = fitColumns([head, ...body], align);
  const t = new Table({ head, style: { head: [], border: [], compact: true }, colAligns: align, ...(colWidths ? { colWidths } : {}) });
  for (const row of body) t.push(row);
  return t.toString();
}

/** A two-column table of labels and values. */
export function keyValues(rows: [string, Cell][]): string {
  const body = rows.map(([key, value]) => [key, cell(value)]);
  const colWidths = fitColumns(body, ['left', 'left']);
  const t = new Table({ style: { head: [], border: [], compact: true }, ...(colWidths ? { colWidths } : {}) });
  for (const [key, value] of body) t.push({ [key]: value });
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
