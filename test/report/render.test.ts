import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Column, type TabularDocument, records } from '../../src/report/document.js';
import { recordsTable, render } from '../../src/report/render.js';

interface Row { name: string; ms: number; note?: string }

const columns: Column<Row>[] = [
  { key: 'name', header: 'name', value: (r) => r.name },
  { key: 'ms', header: 'time ms', value: (r) => r.ms, align: 'right' },
  { key: 'note', header: 'note', value: (r) => r.note, only: 'csv' },
  { key: 'flag', header: 'flag', value: () => null, text: (r) => (r.ms > 1 ? 'SLOW' : 'ok'), only: 'human' },
];
const table = records(columns, [{ name: 'a|b', ms: 0.123456789, note: 'say "hi", twice' }, { name: 'c\\|d', ms: 2 }], {
  headline: ['one row is slow'],
  footer: ['measured on a test'],
});
const doc: TabularDocument = {
  title: 'timings',
  data: { rows: 2, big: 10n, ratio: Infinity, notes: [] },
  notes: [],
  text: () => recordsTable(table),
  records: table,
};

test('csv: keys as header, raw values, RFC 4180 quoting, human-only columns left out', () => {
  assert.equal(render('csv', doc), 'name,ms,note\na|b,0.123456789,"say ""hi"", twice"\nc\\|d,2,\n');
});

test('markdown: title, headline, escaped pipes and backslashes, right-aligned numbers, the footer as a list', () => {
  assert.equal(render('markdown', doc), [
    '### timings',
    '',
    'one row is slow',
    '',
    '| name | time ms | flag |',
    '| --- | ---: | --- |',
    '| a\\|b | 0.1235 | ok |',
    '| c\\\\\\|d | 2 | SLOW |',
    '',
    '- measured on a test',
    '',
  ].join('\n'));
});

test('table: headline, a cli-table3 table with formatted cells, footer', () => {
  const lines = render('table', doc).trimEnd().split('\n');
  assert.equal(lines[0], 'one row is slow');
  assert.match(lines[2], /│ name +│ +time ms │ flag +│/);
  assert.match(lines[4], /│ a\|b +│ +0\.1235 │ ok +│/);
  assert.match(lines[5], /│ c\\\|d +│ +2 │ SLOW │/);
  assert.equal(lines.at(-1), 'measured on a test');
});

test('json: the data with bigints as numbers and non-finite numbers as strings', () => {
  assert.deepEqual(JSON.parse(render('json', doc)), { rows: 2, big: 10, ratio: 'Infinity', notes: [] });
});
