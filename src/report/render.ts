import { renderCsv } from './csv.js';
import { type Format, type Records, type ReportDocument, type TabularDocument, fieldsFor } from './document.js';
import { getTableWidth, naturalTableWidth, table } from './format.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';

/**
 * Records as people read them in a terminal: the headline, a table, the footer. A table wider
 * than the terminal first leaves out the columns its document marks as droppable, in their order,
 * and says so; what is still too wide is cut in its text columns.
 */
export function recordsTable(records: Records, width = getTableWidth()): string {
  let shown = fieldsFor(records, 'human');
  const cells = () => [shown.map(({ field }) => field.header), ...records.rows.map((row) => shown.map(({ index }) => row.human[index]))];
  const droppable = shown.filter(({ field }) => field.drop !== undefined).sort((a, b) => a.field.drop! - b.field.drop!);
  const dropped: string[] = [];
  while (width !== undefined && naturalTableWidth(cells()) > width && droppable.length) {
    const next = droppable.shift()!;
    shown = shown.filter((s) => s !== next);
    dropped.push(next.field.header);
  }
  const [head, ...rows] = cells();
  const body = table(head, rows, shown.map(({ field }) => field.align));
  const left = dropped.length ? [`left out to fit ${width} columns: ${dropped.join(', ')} (a wider terminal or another format shows them)`] : [];
  return [...records.headline, body, ...records.footer, ...left].join('\n');
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
