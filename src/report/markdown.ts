import { type TabularDocument, fieldsFor } from './document.js';

/** `markdown`: a GitHub-flavoured section ready for `$GITHUB_STEP_SUMMARY` or a PR comment. */
export function renderMarkdown(doc: TabularDocument): string {
  const { records } = doc;
  const shown = fieldsFor(records, 'human');
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const parts = [`### ${doc.title}`, ''];
  if (records.headline.length) parts.push(...records.headline, '');
  parts.push(
    line(shown.map(({ field }) => escape(field.header))),
    line(shown.map(({ field }) => (field.align === 'right' ? '---:' : '---'))),
    ...records.rows.map((row) => line(shown.map(({ index }) => escape(row.human[index])))),
  );
  if (records.footer.length) parts.push('', ...records.footer.map((n) => `- ${n}`));
  return `${parts.join('\n')}\n`;
}

/** Backslashes too: `a\|b` was written `a\\|b`, whose `\|` GitHub reads as an escaped pipe, showing `a|b`. */
function escape(text: string): string {
  return text.replace(/[\\|]/g, '\\$&').replace(/\r?\n/g, ' ');
}
