import { equals } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { DataType, ModelConfigSchema, ModelInstanceGroup_Kind } from '../../src/triton/gen/model_config_pb.js';
import { ConfigSyntaxError, configText, parseConfig } from '../../src/triton/text.js';
import { shared } from '../helpers.js';

const examples = () => fs.readdirSync(shared('triton-examples')).filter((f) => f.endsWith('.pbtxt')).sort();
const example = (name: string) => fs.readFileSync(shared('triton-examples', name), 'utf8');

test('every real config parses, and parse -> write -> parse gives an equal message', () => {
  assert.equal(examples().length, 6);
  for (const name of examples()) {
    const config = parseConfig(example(name), name);
    const text = configText(config);
    assert.ok(equals(ModelConfigSchema, config, parseConfig(text)), `${name} changed on the round trip`);
    // The written form is canonical: writing it again gives the same bytes.
    assert.equal(configText(parseConfig(text)), text, name);
  }
});

test('the real configs read as Triton reads them', () => {
  const onnx = parseConfig(example('01-onnx-dynamic-batching-instance-group.config.pbtxt'));
  assert.equal(onnx.name, 'text_recognition');
  assert.equal(onnx.backend, 'onnxruntime');
  assert.equal(onnx.maxBatchSize, 8);
  assert.deepEqual(onnx.input.map((t) => [t.name, t.dataType, t.dims]), [['input.1', DataType.TYPE_FP32, [1n, 32n, 100n]]]);
  assert.deepEqual(onnx.output.map((t) => [t.name, t.dims]), [['308', [26n, 37n]]]);
  assert.equal(onnx.schedulingChoice.case, 'dynamicBatching');
  assert.deepEqual(onnx.instanceGroup.map((g) => [g.count, g.kind]), [[2, ModelInstanceGroup_Kind.GPU]]);

  const bert = parseConfig(example('02c-tensorrt-plan-bert-autocomplete.config.pbtxt'));
  assert.equal(bert.input.length, 0);
  assert.equal(bert.schedulingChoice.case, 'dynamicBatching');
  assert.deepEqual(bert.schedulingChoice.value.preferredBatchSize, [4]);
  assert.equal(bert.schedulingChoice.value.maxQueueDelayMicroseconds, 200000n);
  assert.deepEqual(bert.instanceGroup[0].profile, ['1']);

  const ensemble = parseConfig(example('03a-ensemble-python-tokenizer.ensemble.config.pbtxt'));
  assert.equal(ensemble.schedulingChoice.case, 'ensembleScheduling');
  const steps = ensemble.schedulingChoice.value.step;
  assert.deepEqual(steps.map((s) => [s.modelName, s.modelVersion]), [['preprocessing', -1n], ['tensorrt_llm', -1n], ['postprocessing', -1n]]);
  assert.equal(Object.keys(steps[1].inputMap).length, 15);
  assert.equal(steps[0].outputMap.INPUT_ID, '_INPUT_ID');
  assert.equal(ensemble.input.filter((t) => t.optional).length, 12);

  const python = parseConfig(example('03b-ensemble-python-tokenizer.preprocessing.config.pbtxt'));
  assert.equal(python.parameters.tokenizer_dir.stringValue, '${tokenizer_dir}');
});

test('the examples cannot come back byte for byte: comments and list syntax are not part of the message', () => {
  const text = example('01-onnx-dynamic-batching-instance-group.config.pbtxt');
  const written = configText(parseConfig(text));
  assert.notEqual(written, text);
  assert.match(text, /^# Copyright/m);
  assert.doesNotMatch(written, /#/);
  // `dims: [ 1, 32, 100 ]` is written as one line per element, `input [ {` as `input: {`.
  assert.match(written, /dims: 1\n {2}dims: 32\n {2}dims: 100\n/);
  assert.match(written, /^input: \{$/m);
});

test('unknown fields, unknown enum values and two schedulers are errors with the line', () => {
  const cases: [string, RegExp, number | undefined][] = [
    ['name: "m"\n\n  foo: 1\n', /unknown field "foo"/, 3],
    ['input {\n  name: "x"\n  data_typ: TYPE_FP32\n}\n', /unknown field "data_typ" for message inference.ModelInput/, 3],
    ['input { data_type: TYPE_FOO }', /unknown enum value "TYPE_FOO"/, 1],
    ['dynamic_batching {}\nensemble_scheduling {}\n', /oneof "scheduling_choice" is already set/, undefined],
    ['# foo: comment\nfoo: 2\n', /unknown field "foo"/, 2],
  ];
  for (const [text, message, line] of cases) {
    assert.throws(() => parseConfig(text, 'm/config.pbtxt'), (error: unknown) => {
      assert.ok(error instanceof ConfigSyntaxError);
      assert.match(error.detail, message);
      assert.equal(error.line, line, text);
      assert.equal(error.exitCode, 2);
      return true;
    });
  }
});
