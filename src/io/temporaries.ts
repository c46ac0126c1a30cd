/**
 * The names tdeploy gives what it writes beside a destination before it is in place, and the
 * clean-up of those a killed run left behind. Every name carries its owner (a hash of the host
 * and the process id), so that a later run can tell a write still in progress from the remains
 * of one whose process is gone: `.<dest name>.<host>-<pid>-<random>.<role>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What a temporary is: being written, an original moved aside during a commit, or a commit's journal. */
export type Role = 'tmp' | 'old' | 'commit';

export const HOST = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

/** This process's tag; each call gives a new one so that two outputs of one run never share a name. */
export function newTag(): string {
  return `${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Beside `dest`, named after it: cut to 50 characters so that a long but legal name stays legal with the additions. */
export function temporaryPath(dest: string, tag: string, role: Role): string {
  const name = [...path.basename(dest)].slice(0, 50).join('');
  return path.join(path.dirname(dest), `.${name}.${tag}.${role}`);
}

// Names from before the host was recorded (`.<name>.<pid>-<random>.tmp`) are recognised as this host's.
const TEMPORARY = /^\.(.*)\.(?:([0-9a-f]{8})-)?(\d+)-([0-9a-f]{8})\.(tmp|old|commit)$/;

export interface Temporary {
  /** the entry's name in its folder */
  name: string;
  tag: string;
  role: Role;
  host: string;
  pid: number;
  /** whether its owner is a process of this host that is gone */
  abandoned: boolean;
}

export function parseTemporary(name: string): Temporary | undefined {
  const match = TEMPORARY.exec(name);
  if (!match) return undefined;
  const [, , host = HOST, pid, random, role] = match;
  const tag = match[2] ? `${host}-${pid}-${random}` : `${pid}-${random}`;
  return { name, tag, role: role as Role, host, pid: Number(pid), abandoned: host === HOST && !isAlive(Number(pid)) };
}

/** A process of another host cannot be asked; it counts as alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** tdeploy's temporaries in `dir` (none when it cannot be read). */
export function temporariesIn(dir: string): Temporary[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.map(parseTemporary).filter((t): t is Temporary => t !== undefined);
}

/** One rename of a commit: the temporary, its destination, and where the original goes meanwhile. */
export interface JournalEntry {
  tmp: string;
  dest: string;
  aside: string;
}

/**
 * Finishes the commits in `dir` whose process died between the first and the last rename (their
 * journal says which temporaries were complete), then removes every temporary of a process that
 * is gone. A commit is finished rather than undone because every file it names was complete and
 * synced before its journal was written.
 */
export async function sweepAbandoned(dir: string): Promise<string[]> {
  const abandoned = temporariesIn(dir).filter((t) => t.abandoned);
  const removed: string[] = [];
  for (const journal of abandoned.filter((t) => t.role === 'commit')) await finishCommit(path.join(dir, journal.name));
  for (const t of abandoned) {
    const file = path.join(dir, t.name);
    if (!fs.existsSync(file)) continue;
    await fs.promises.rm(file, { recursive: true, force: true });
    removed.push(t.name);
  }
  return removed;
}

/** Rolls a commit forward from its journal. Claimed by renaming first, so two runs never finish one commit twice. */
async function finishCommit(journal: string): Promise<void> {
  const claimed = temporaryPath(journal, newTag(), 'commit');
  try {
    await fs.promises.rename(journal, claimed);
  } catch {
    return;
  }
  let entries: JournalEntry[];
  try {
    entries = JSON.parse(await fs.promises.readFile(claimed, 'utf8')) as JournalEntry[];
  } catch {
    entries = [];
  }
  rollForward(entries);
  await fs.promises.rm(claimed, { force: true });
}

/** Completes a commit from its journal's entries. Synchronous, so that a Ctrl-C handler can finish one in flight. */
export function rollForward(entries: JournalEntry[]): void {
  const exists = (p: string) => {
    try {
      fs.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  for (const e of [...entries].reverse()) {
    if (exists(e.tmp) && exists(e.dest) && !exists(e.aside)) fs.renameSync(e.dest, e.aside);
  }
  for (const e of entries) if (exists(e.tmp)) fs.renameSync(e.tmp, e.dest);
  for (const e of entries) fs.rmSync(e.aside, { recursive: true, force: true });
}
