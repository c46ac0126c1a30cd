import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../test/helpers.js';

/**
 * Replaces what stands between a benchmark's two marker comments in README.md with its new
 * figures, so that a table in the README is always one command's output.
 */
export function writeReadmeSection(start: string, end: string, text: string): void {
  const readme = path.join(repoRoot, 'README.md');
  const current = fs.readFileSync(readme, 'utf8');
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} section`);
  fs.writeFileSync(readme, `${current.slice(0, from + start.length)}\n${text}${current.slice(to)}`);
}
