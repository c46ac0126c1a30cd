/**
 * What a command reports, as every renderer sees it. Each command builds one document from its
 * result: `data` is its JSON document (its notes included), `notes` are told to people on
 * stderr, `text` is what they read on stdout, and `records` lists rows for the formats that
 * tabulate them (Markdown, CSV).
 */
import { type Cell, formatNumber } from './format.js';

export interface ReportDocument<Data = unknown> {
  /** the heading in Markdown */
  title: string;
  data: Data;
  /** defaults taken, fallbacks, what was done: for people, and in `data` for machines */
  notes: string[];
  text(): string;
  /** what quiet output prints when it is less than text(): the verdict of a gate */
  brief?(): string;
  records?: Records;
}

/** A document with records, which every format can render. */
export type TabularDocument<Data = unknown> = ReportDocument<Data> & { records: Records };

/** Rows as plain cells: each with its raw value (CSV keeps full precision) and the text people see. */
export interface Records {
  fields: Field[];
  rows: { raw: Cell[]; human: string[] }[];
  /** lines shown before the table in human formats (a verdict) */
  headline: string[];
  /** lines shown after the table in human formats (environment, settings) */
  footer: string[];
}

export interface Field {
  /** the name in CSV, which matches the JSON key where there is one */
  key: string;
  /** the heading in the table and in Markdown */
  header: string;
  align: 'left' | 'right';
  /** limits a column to human formats (table, Markdown) or to CSV */
  only?: 'human' | 'csv';
  /** a terminal too narrow for the table leaves this column out, lowest first */
  drop?: number;
}

/** How a column of a document's records is read from one row. */
export interface Column<Row> extends Omit<Field, 'align'> {
  /** the raw value: numbers unformatted */
  value: (row: Row) => Cell;
  /** how people see the value, where it differs from the formatted raw value */
  text?: (row: Row) => string;
  align?: 'left' | 'right';
}

export function records<Row>(columns: Column<Row>[], rows: Row[], lines: { headline?: string[]; footer?: string[] } = {}): Records {
  return {
    fields: columns.map(({ key, header, align = 'left', only, drop }) => ({ key, header, align, ...(only ? { only } : {}), ...(drop === undefined ? {} : { drop }) })),
    rows: rows.map((row) => ({ raw: columns.map((c) => c.value(row)), human: columns.map((c) => humanCell(c, row)) })),
    headline: lines.headline ?? [],
    footer: lines.footer ?? [],
  };
}

/** A cell as people read it: the column's own text, or the formatted value. */
function humanCell<Row>(column: Column<Row>, row: Row): string {
  if (column.text) return column.text(row);
  const value = column.value(row);
  if (value === null || value === undefined) return '-';
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

export const FORMATS = ['table', 'json', 'markdown', 'csv'] as const;
export type Format = (typeof FORMATS)[number];

/** The fields a kind of format shows, with their positions in each row. */
export function fieldsFor(records: Records, kind: 'human' | 'csv'): { field: Field; index: number }[] {
  return records.fields.map((field, index) => ({ field, index })).filter(({ field }) => field.only === undefined || field.only === kind);
}
