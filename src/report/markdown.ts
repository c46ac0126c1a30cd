import { type Column, type ReportDocument, columnsFor } from './document.js';
import { type Cell, formatNumber } from './format.js';

/** `--format markdown`: a GitHub-flavoured section ready for `$GITHUB_STEP_SUMMARY` or a PR comment. */
export function renderMarkdown<Row>(doc: ReportDocument<Row>): string {
  const columns = columnsFor(doc, 'human');
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const parts = [`### ${doc.title}`, ''];
  if (doc.headline?.length) parts.push(...doc.headline, '');
  parts.push(
    line(columns.map((c) => escape(c.header))),
    line(columns.map((c) => (c.align === 'right' ? '---:' : '---'))),
    ...doc.rows.map((row) => line(columns.map((c) => escape(humanCell(c, row))))),
  );
  if (doc.notes?.length) parts.push('', ...doc.notes.map((n) => `- ${n}`));
  return `${parts.join('\n')}\n`;
}

/** A cell as people read it: the column's own text, or the formatted value. */
export function humanCell<Row>(column: Column<Row>, row: Row): string {
  if (column.text) return column.text(row);
  const value: Cell = column.value(row);
  if (value === null || value === undefined) return '-';
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

/** Backslashes too: `a\|b` was written `a\\|b`, whose `\|` GitHub reads as an escaped pipe, showing `a|b`. */
function escape(text: string): string {
  return text.replace(/[\\|]/g, '\\$&').replace(/\r?\n/g, ' ');
}
