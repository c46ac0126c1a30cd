import { renderCsv } from './csv.js';
import { type Format, type Records, type ReportDocument, type TabularDocument, fieldsFor } from './document.js';
import { table } from './format.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';

/** Records as people read them in a terminal: the headline, a table, the footer. */
export function recordsTable(records: Records): string {
  const shown = fieldsFor(records, 'human');
  const body = table(shown.map(({ field }) => field.header), records.rows.map((row) => shown.map(({ index }) => row.human[index])), shown.map(({ field }) => field.align));
  return [...records.headline, body, ...records.footer].join('\n');
}

/** `table`: what people read in a terminal. */
export function renderText(doc: ReportDocument): string {
  return `${doc.text().trimEnd()}\n`;
}

/** One renderer per format, shared by every command. */
export const renderers: Record<Format, (doc: TabularDocument) => string> = {
  table: renderText,
  json: renderJson,
  markdown: renderMarkdown,
  csv: renderCsv,
};

export function render(format: Format, doc: TabularDocument): string {
  return renderers[format](doc);
}
