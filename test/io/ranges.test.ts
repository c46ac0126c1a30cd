import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { copyRange, readFully, readRange, writeFully } from '../../src/io/ranges.js';
import { loadModel } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { fixture, listFiles, tempDir } from '../helpers.js';

/** A file handle over memory that moves at most 3 bytes a call, as a real one may near 2 GiB. */
function stingyHandle(content: Uint8Array): { fh: fs.promises.FileHandle; written: number[] } {
  const written: number[] = [];
  let cursor = 0;
  const fh = {
    read: async (buffer: Uint8Array, offset: number, length: number, position: number) => {
      const n = Math.max(0, Math.min(3, length, content.length - position));
      buffer.set(content.subarray(position, position + n), offset);
      return { bytesRead: n, buffer };
    },
    write: async (buffer: Uint8Array, offset: number, length: number, position: number | null) => {
      const n = Math.min(3, length);
      const at = position ?? cursor;
      written.splice(at, n, ...buffer.subarray(offset, offset + n));
      cursor = at + n;
      return { bytesWritten: n, buffer };
    },
  };
  return { fh: fh as unknown as fs.promises.FileHandle, written };
}

test('short reads and writes are continued until every byte has moved', async () => {
  const content = Uint8Array.from({ length: 20 }, (_, i) => i);
  const { fh } = stingyHandle(content);
  const buffer = new Uint8Array(11);
  await readFully(fh, buffer, 4, 'mem');
  assert.deepEqual(Array.from(buffer), Array.from(content.subarray(4, 15)));
  await assert.rejects(readFully(fh, new Uint8Array(8), 16, 'mem'), (e: Error) => e instanceof InputError && /^mem ended early/.test(e.message));

  const out = stingyHandle(new Uint8Array(0));
  await writeFully(out.fh, content.subarray(0, 10));
  await writeFully(out.fh, content.subarray(10, 17));
  await writeFully(out.fh, Uint8Array.of(99, 98), 1);
  assert.deepEqual(out.written, [0, 99, 98, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
});

test('a range reads and copies exactly; a file shorter than the range is an input error', async () => {
  const dir = tempDir();
  const source = path.join(dir, 'source.bin');
  fs.writeFileSync(source, Buffer.from('0123456789'));
  assert.equal(Buffer.from(await readRange({ file: source, offset: 3, length: 4 })).toString(), '3456');
  assert.equal((await readRange({ file: source, offset: 10, length: 0 })).length, 0);
  const out = await fs.promises.open(path.join(dir, 'copy.bin'), 'w');
  await copyRange(out, { file: source, offset: 2, length: 5 });
  await copyRange(out, { file: source, offset: 0, length: 1 });
  await out.close();
  assert.equal(fs.readFileSync(path.join(dir, 'copy.bin'), 'utf8'), '234560');
  await assert.rejects(readRange({ file: source, offset: 8, length: 4 }), (e: Error) => e instanceof InputError && e.message.includes('source.bin ended early'));
});

test('a model whose file shrinks after loading fails to save with an input error and leaves nothing', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'model.onnx');
  fs.copyFileSync(fixture('encoder.onnx'), file);
  const model = await loadModel(file, { deferAbove: 0 });
  fs.truncateSync(file, 1000);
  await assert.rejects(saveModel(model, path.join(dir, 'out', 'copy.onnx')), (e: Error) => e instanceof InputError && e.message.includes('model.onnx ended early'));
  assert.deepEqual(listFiles(path.join(dir, 'out')), []);
});
