import type { Cell } from './format.js';

/**
 * A report as every renderer sees it: the machine-readable data (JSON), rows and the columns
 * that describe them (table, Markdown, CSV), and lines of text that go with the table. A
 * command builds one document; `render` turns it into any format.
 */
export interface Column<Row> {
  /** the name in CSV, which matches the JSON key where there is one */
  key: string;
  /** the heading in the table and in Markdown */
  header: string;
  /** the raw value: numbers unformatted (CSV keeps full precision) */
  value: (row: Row) => Cell;
  /** how people see the value, where it differs from the formatted raw value */
  text?: (row: Row) => string;
  align?: 'left' | 'right';
  /** limits a column to human formats (table, Markdown) or to CSV */
  only?: 'human' | 'csv';
}

export interface ReportDocument<Row = unknown> {
  title: string;
  data: unknown;
  columns: Column<Row>[];
  rows: Row[];
  /** lines shown before the table in human formats (a verdict) */
  headline?: string[];
  /** lines shown after the table in human formats (environment, settings) */
  notes?: string[];
}

export const FORMATS = ['table', 'json', 'markdown', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

export function columnsFor<Row>(doc: ReportDocument<Row>, kind: 'human' | 'csv'): Column<Row>[] {
  return doc.columns.filter((c) => c.only === undefined || c.only === kind);
}
