import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readOwner, withLock } from '../../src/io/lock.js';
import { listFiles, tempDir } from '../helpers.js';

const deadPid = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('holders take turns: no two run at once, and the lock file is gone afterwards', async () => {
  const dir = tempDir();
  const lock = path.join(dir, '.repo.tdeploy-lock');
  let inside = 0;
  let most = 0;
  const order: number[] = [];
  await Promise.all([0, 1, 2, 3, 4].map((i) => withLock(lock, 'the repository', async () => {
    inside += 1;
    most = Math.max(most, inside);
    assert.equal(readOwner(lock)?.pid, process.pid);
    await sleep(20);
    order.push(i);
    inside -= 1;
  }, { waitMs: 10_000 })));
  assert.equal(most, 1);
  assert.equal(order.length, 5);
  assert.deepEqual(listFiles(dir), []);
});

test('a lock whose process is gone is taken over; an unreadable one after its grace time', async () => {
  const dir = tempDir();
  const lock = path.join(dir, '.repo.tdeploy-lock');
  fs.writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: os.hostname(), since: '2026-01-01T00:00:00.000Z' }));
  assert.equal(await withLock(lock, 'the repository', async () => readOwner(lock)?.pid, { waitMs: 0 }), process.pid);
  fs.writeFileSync(lock, '');
  const started = Date.now();
  assert.equal(await withLock(lock, 'the repository', async () => 'taken', { waitMs: 5000, unreadableMs: 200 }), 'taken');
  assert.ok(Date.now() - started >= 200);
  assert.deepEqual(listFiles(dir), []);
});

test('a live holder is waited for, then named in the error', async () => {
  const dir = tempDir();
  const lock = path.join(dir, '.repo.tdeploy-lock');
  const other = { pid: process.ppid, host: os.hostname(), since: '2026-12-02T12:00:00.000Z' };
  fs.writeFileSync(lock, JSON.stringify(other));
  const started = Date.now();
  await assert.rejects(withLock(lock, 'the repository models', async () => 'never', { waitMs: 300 }), (e: Error & { exitCode?: number; hint?: string }) => {
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, `the repository models is being written by another tdeploy (pid ${process.ppid} on ${os.hostname()}, since 2026-12-02T12:00:00.000Z)`);
    assert.equal(e.hint, `wait for it to finish; if that process is gone, remove ${lock}`);
    return true;
  });
  assert.ok(Date.now() - started >= 300);
  assert.deepEqual(readOwner(lock), other, 'a live holder\'s lock is left alone');
});
