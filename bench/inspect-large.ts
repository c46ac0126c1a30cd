/**
 * Benchmark: `tdeploy inspect` on a model over 2 GiB (external data), wall time and peak RSS.
 *
 *   npm run build && node dist/bench/inspect-large.js [GiB]
 *
 * Builds a chain of 8192x8192 float32 MatMuls whose weights live in one sparse external-data
 * file (so it costs no disk), then runs `/usr/bin/time -v node bin/tdeploy.js inspect --json`
 * three times. Target: under 1 s and under 300 MB RSS.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, StringStringEntryProtoSchema,
  TensorProtoSchema, TensorProto_DataLocation, TypeProtoSchema, TypeProto_TensorSchema, TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema, ValueInfoProtoSchema,
} from '../src/onnx/gen/onnx_pb.js';
import { repoRoot } from '../test/helpers.js';

const N = 8192;
const tensorBytes = N * N * 4;
const gib = Number(process.argv[2] ?? 2.25);
const count = Math.ceil((gib * 2 ** 30) / tensorBytes);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-large-'));
const modelPath = path.join(dir, 'large.onnx');

const fd = fs.openSync(`${modelPath}.data`, 'w');
fs.ftruncateSync(fd, count * tensorBytes);
fs.closeSync(fd);

const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
const valueInfo = (name: string) => create(ValueInfoProtoSchema, {
  name,
  type: create(TypeProtoSchema, {
    value: {
      case: 'tensorType',
      value: create(TypeProto_TensorSchema, {
        elemType: 1,
        shape: create(TensorShapeProtoSchema, {
          dim: [
            create(TensorShapeProto_DimensionSchema, { value: { case: 'dimParam', value: 'batch' } }),
            create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: BigInt(N) } }),
          ],
        }),
      }),
    },
  }),
});
const weights = Array.from({ length: count }, (_, i) => create(TensorProtoSchema, {
  name: `w${i}`,
  dims: [BigInt(N), BigInt(N)],
  dataType: 1,
  dataLocation: TensorProto_DataLocation.EXTERNAL,
  externalData: [entry('location', 'large.onnx.data'), entry('offset', String(i * tensorBytes)), entry('length', String(tensorBytes))],
}));
const nodes = weights.map((w, i) => create(NodeProtoSchema, {
  opType: 'MatMul', name: `matmul${i}`, input: [i === 0 ? 'x' : `h${i}`, w.name], output: [i === count - 1 ? 'y' : `h${i + 1}`],
}));
const model = create(ModelProtoSchema, {
  irVersion: 8n,
  producerName: 'tdeploy-bench',
  opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
  graph: create(GraphProtoSchema, { name: 'large', node: nodes, initializer: weights, input: [valueInfo('x')], output: [valueInfo('y')] }),
});
fs.writeFileSync(modelPath, toBinary(ModelProtoSchema, model));
const total = fs.statSync(modelPath).size + fs.statSync(`${modelPath}.data`).size;
console.log(`model: ${count} tensors of ${N}x${N} float32, ${(total / 2 ** 30).toFixed(2)} GiB in all (${modelPath})`);

for (let run = 1; run <= 3; run++) {
  const result = spawnSync('/usr/bin/time', ['-v', process.execPath, path.join(repoRoot, 'bin', 'tdeploy.js'), 'inspect', modelPath, '--json'], {
    encoding: 'utf8', maxBuffer: 1 << 26,
  });
  const report = JSON.parse(result.stdout);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(result.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  const seconds = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  console.log(`run ${run}: wall ${seconds.toFixed(2)} s, peak RSS ${(Number(rss?.[1]) / 1024).toFixed(0)} MiB, parameters ${report.parameters}, externalData ${report.externalData}`);
}
fs.rmSync(dir, { recursive: true, force: true });
