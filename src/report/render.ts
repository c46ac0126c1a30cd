import { renderCsv } from './csv.js';
import { type Format, type ReportDocument, columnsFor } from './document.js';
import { table } from './format.js';
import { renderJson } from './json.js';
import { humanCell, renderMarkdown } from './markdown.js';

/** `--format table`: what people read in a terminal. */
export function renderTable<Row>(doc: ReportDocument<Row>): string {
  const columns = columnsFor(doc, 'human');
  const body = table(columns.map((c) => c.header), doc.rows.map((row) => columns.map((c) => humanCell(c, row))), columns.map((c) => c.align ?? 'left'));
  return `${[...(doc.headline ?? []), body, ...(doc.notes ?? [])].join('\n')}\n`;
}

/** One renderer per format, shared by every command that reports rows. */
export const renderers: Record<Format, <Row>(doc: ReportDocument<Row>) => string> = {
  table: renderTable,
  json: renderJson,
  markdown: renderMarkdown,
  csv: renderCsv,
};

export function render<Row>(format: Format, doc: ReportDocument<Row>): string {
  return renderers[format](doc);
}
