import { type TabularDocument, fieldsFor } from './document.js';
import type { Cell } from './format.js';

/**
 * `csv` (RFC 4180): one header row of column keys, one row per record, raw values
 * (numbers at full precision, empty for none), fields quoted when they hold a comma, quote or
 * line break. Lines end with LF rather than the RFC's CRLF: spreadsheets and pandas read both,
 * and LF keeps the output usable with Unix tools and `>>`.
 */
export function renderCsv(doc: TabularDocument): string {
  const shown = fieldsFor(doc.records, 'csv');
  const lines = [shown.map(({ field: f }) => field(f.key)), ...doc.records.rows.map((row) => shown.map(({ index }) => field(row.raw[index])))];
  return lines.map((cells) => `${cells.join(',')}\n`).join('');
}

function field(value: Cell): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
