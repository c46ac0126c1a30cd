/**
 * `tdeploy convert` on a model over 2 GB: torch writes one side file per large tensor, tdeploy
 * gathers them into `<out>.onnx` + `<out>.onnx.data`. Wall time, the files written, and whether
 * onnxruntime runs the result like torch.
 *
 *   npm run build && node dist/bench/convert-large.js [GiB] [python]
 *
 * The model is a chain of 8192x8192 Linear layers (256 MiB of float32 each) built by a factory
 * in a temporary folder. Needs about 3x the model's size in memory and 2x on disk.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSession } from '../src/runtime/session.js';
import { readNpz } from '../src/tensor/npz.js';
import { toFloat64 } from '../src/tensor/tensor.js';
import { pythonWith } from '../test/helpers.js';
import { timed } from './timed.js';

const gib = Number(process.argv[2] ?? 2.25);
const python = process.argv[3] ?? pythonWith(['torch', 'numpy']);
if (!python) throw new Error('no Python with torch and numpy found; pass one as the second argument');
const N = 8192;
const layers = Math.ceil((gib * 2 ** 30) / (N * N * 4));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-convert-large-'));
fs.writeFileSync(path.join(dir, 'large_models.py'), `
import torch

def chain():
    torch.manual_seed(0)
    layers = []
    for _ in range(${layers}):
        layer = torch.nn.Linear(${N}, ${N}, bias=False)
        with torch.no_grad():
            layer.weight.normal_(0, ${N} ** -0.5)
        layers.append(layer)
    return torch.nn.Sequential(*layers).eval()
`);
const output = path.join(dir, 'out', 'large.onnx');
console.log(`model: ${layers} Linear(${N}, ${N}) layers, ${((layers * N * N * 4) / 2 ** 30).toFixed(2)} GiB of float32 weights`);

const convert = timed(['convert', 'large_models:chain', '--python-path', dir, '-o', output, '--input', `x:float32:batch,${N}`, '--python', python, '--no-check', '--json']);
if (convert.status !== 0) throw new Error(`convert failed (${convert.status}): ${convert.stderr}`);
const report = JSON.parse(convert.stdout);
console.log(`convert: ${convert.seconds.toFixed(1)} s wall, peak RSS ${(convert.rssMiB / 1024).toFixed(2)} GiB (largest of tdeploy and Python)`);
for (const file of fs.readdirSync(path.dirname(output)).sort()) {
  console.log(`  ${file}: ${(fs.statSync(path.join(path.dirname(output), file)).size / 2 ** 30).toFixed(3)} GiB`);
}
console.log(`  report: dataFile ${report.dataFile}, inputs ${JSON.stringify(report.inputs)}, outputs ${JSON.stringify(report.outputs)}`);

const reference = await readNpz(report.reference);
const session = await openSession(output);
const outputs = await session.run(new Map([['x', reference.get('x')!]]));
await session.release();
const [expected, actual] = [toFloat64(reference.get('output')!), toFloat64(outputs.get('output')!)];
const worst = expected.reduce((w, v, i) => Math.max(w, Math.abs(v - actual[i])), 0);
console.log(`onnxruntime on the reference inputs: max abs error ${worst.toExponential(2)} against torch`);
fs.rmSync(dir, { recursive: true, force: true });
