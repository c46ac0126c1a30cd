import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrtexecLog } from '../../src/trt/log-parser.js';

/** A failed run made of the given logger lines (error texts as TensorRT prints them, see reference section 3). */
function failed(...lines: string[]) {
  const report = parseTrtexecLog([
    '&&&& RUNNING TensorRT.trtexec [TensorRT v100100] # trtexec --onnx=m.onnx',
    ...lines.map((l) => (l.startsWith('[') ? `[05/01/2025-10:00:00] ${l}` : l)),
    '&&&& FAILED TensorRT.trtexec [TensorRT v100100] # trtexec --onnx=m.onnx',
  ].join('\n'));
  assert.equal(report.outcome, 'failed');
  return report.failure!;
}

test('a removed flag is an invalid option, named in the hint', () => {
  // the start of the help 10.14 prints after it, wrapped flag descriptions included
  const f = failed(
    '[E] Unknown option: --workspace 1024',
    '=== Model Options ===',
    '  --onnx=<file>               ONNX model',
    '',
    '=== Build Options ===',
    '  --maxShapesCalib=spec              Calibrate with dynamic shapes using a profile with the max shapes provided',
    '                                     Note: All three of min, opt and max shapes must be supplied.',
    '                                           However, if only opt shapes is supplied then it will be expanded so',
  );
  assert.equal(f.kind, 'invalid-option');
  assert.equal(f.message, 'Unknown option: --workspace 1024', 'the help text printed after it is left out');
  assert.match(f.hint, /does not know --workspace/);
});

test('shapes naming an input the network lacks are an invalid option', () => {
  const f = failed('[E] Cannot find input tensor with name "input_id" in the network inputs! Please make sure the input tensor names are correct.', '[E] Network And Config setup failed');
  assert.deepEqual([f.kind, f.hint], ['invalid-option', "the model has no input 'input_id': shapes must name the model's inputs ('tdeploy inspect <model>' lists them)"]);
});

test('memory warnings before "Could not find any implementation" make it out-of-memory, not a missing kernel', () => {
  const oom = failed(
    '[W] [TRT] Requested amount of GPU memory (8589934592 bytes) could not be allocated. There may not be enough free memory for allocation to succeed.',
    '[E] Error[10]: IBuilder::buildSerializedNetwork: Error Code 10: Internal Error (Could not find any implementation for node /encoder/MatMul.)',
    '[E] Engine could not be created from network',
    '[E] Building engine failed',
  );
  assert.equal(oom.kind, 'out-of-memory');
  assert.deepEqual(oom.message.split('\n'), [
    'Requested amount of GPU memory (8589934592 bytes) could not be allocated. There may not be enough free memory for allocation to succeed.',
    'IBuilder::buildSerializedNetwork: Error Code 10: Internal Error (Could not find any implementation for node /encoder/MatMul.)',
  ]);
  const kernel = failed(
    '[E] Error[10]: IBuilder::buildSerializedNetwork: Error Code 10: Internal Error (Could not find any implementation for node /encoder/MatMul.)',
    '[E] Engine could not be created from network',
  );
  assert.equal(kernel.kind, 'build-error');
  assert.match(kernel.hint, /no kernel for that node/);
});

test('CUDA out of memory as an error line', () => {
  assert.equal(failed('[E] Error[1]: [defaultAllocator.cpp::allocate::31] Error Code 1: Cuda Runtime (out of memory)').kind, 'out-of-memory');
  assert.equal(failed('[E] Error[2]: [virtualMemoryBuffer.cpp::resizePhysical::140] Error Code 2: OutOfMemory (no further information)').kind, 'out-of-memory');
});

test('calibration, runtime and other builder failures', () => {
  assert.equal(failed('[E] Error[2]: Calibration failure occurred with no scaling factors detected.', '[E] Building engine failed').kind, 'calibration');
  const stale = failed('[E] Error[1]: [stdArchiveReader.cpp::StdArchiveReader::42] Error Code 1: Serialization (Serialization assertion stdVersionRead == serializationVersion failed.Version tag does not match. Note: Current Version: 236, Serialized Engine Version: 232)', '[E] Engine deserialization failed');
  assert.equal(stale.kind, 'runtime-error');
  assert.equal(failed('[E] Error occurred during inference').kind, 'runtime-error');
  const generic = failed('[E] Error[4]: [network.cpp::validate::3162] Error Code 4: Internal Error (Network must have at least one output)', '[E] Engine set up failed');
  assert.deepEqual([generic.kind, generic.message], ['build-error', '[network.cpp::validate::3162] Error Code 4: Internal Error (Network must have at least one output)']);
});

test('error lines no rule knows are unknown, and keep their text', () => {
  const f = failed('[E] something new went wrong');
  assert.deepEqual([f.kind, f.message], ['unknown', 'something new went wrong']);
});

test('the generic chain alone is shown when nothing more specific was printed', () => {
  const f = failed('[E] Engine set up failed');
  assert.deepEqual([f.kind, f.message], ['build-error', 'Engine set up failed']);
});
