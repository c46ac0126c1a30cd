/**
 * A lock file that says who holds it (pid, host, since when), so that writers of one place take
 * turns, and a lock whose process is gone is taken over instead of blocking every later run.
 */
import fs from 'node:fs';
import os from 'node:os';
import { InputError } from '../errors.js';
import { removeOnInterrupt } from './atomic.js';
import { isAlive, newTag, temporaryPath } from './temporaries.js';

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

export interface LockOptions {
  /** how long to wait for a live holder before giving up */
  waitMs: number;
  /** how long an unreadable lock file (one being written, or cut short by a crash) is waited for */
  unreadableMs?: number;
}

const POLL_MS = 50;

/** Runs `work` holding the lock file `file`; `what` names the guarded place in the error when waiting times out. */
export async function withLock<T>(file: string, what: string, work: () => Promise<T>, options: LockOptions): Promise<T> {
  const me: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  await acquire(file, me, what, options);
  const unregister = removeOnInterrupt(file);
  try {
    return await work();
  } finally {
    unregister();
    // Released only while it is still ours: a holder judged dead by mistake must not free another's lock.
    if (sameOwner(readOwner(file), me)) fs.rmSync(file, { force: true });
  }
}

/** The holder of `file`, or undefined when there is none or its content cannot be read (yet). */
export function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return Number.isInteger(owner.pid) && typeof owner.host === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** A holder on this host whose process is gone. */
export function isStale(owner: LockOwner): boolean {
  return owner.host === os.hostname() && !isAlive(owner.pid);
}

const sameOwner = (a: LockOwner | undefined, b: LockOwner) => a?.pid === b.pid && a.host === b.host && a.since === b.since;

async function acquire(file: string, me: LockOwner, what: string, options: LockOptions): Promise<void> {
  const deadline = Date.now() + options.waitMs;
  let unreadableSince: number | undefined;
  for (;;) {
    if (await tryCreate(file, me)) return;
    const owner = readOwner(file);
    if (owner) {
      unreadableSince = undefined;
      if (isStale(owner)) {
        await breakStale(file, owner);
        continue;
      }
    } else if (fs.existsSync(file)) {
      unreadableSince ??= Date.now();
      if (Date.now() - unreadableSince > (options.unreadableMs ?? 5000)) {
        fs.rmSync(file, { force: true });
        continue;
      }
    }
    if (Date.now() > deadline) {
      const who = owner ? `another tdeploy (pid ${owner.pid} on ${owner.host}, since ${owner.since})` : 'another tdeploy';
      throw new InputError(`${what} is being written by ${who}`, { kind: 'busy', hint: `wait for it to finish; if that process is gone, remove ${file}` });
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Creates the lock file with its owner, complete, or says it exists. */
async function tryCreate(file: string, me: LockOwner): Promise<boolean> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(me));
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Moves a dead holder's lock out of the way. Two runs may judge the same lock stale; the rename
 * lets only one of them remove it, and one that finds it moved a live holder's lock puts it back.
 */
async function breakStale(file: string, stale: LockOwner): Promise<void> {
  const grave = temporaryPath(file, newTag(), 'old');
  try {
    await fs.promises.rename(file, grave);
  } catch {
    return;
  }
  if (!sameOwner(readOwner(grave), stale)) await fs.promises.link(grave, file).catch(() => {});
  await fs.promises.rm(grave, { force: true });
}
