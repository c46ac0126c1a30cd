/**
 * Figures for `quantize --fallback` on real architectures: the BERT-like encoder fixture and a
 * torchvision ResNet-18. For each INT8 mode: the plain model's worst output cosine c0, then a
 * search for a gate halfway from c0 to 1 (half the error): the cosine reached, nodes kept of the
 * nodes converted, models measured and seconds.
 *
 *   npm run build && nice node dist/bench/fallback-models.js
 *
 * ResNet-18 (random weights, `weights=None`, BatchNorm statistics from one batch of noise, input
 * 3x96x96) is exported with /usr/bin/python3 and torchvision into bench/out/ unless
 * TDEPLOY_RESNET names an .onnx that has `<name>.inputs.npz` and `<name>.calibration.npz` beside it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { quantize } from '../src/quantize/quantize.js';
import type { QuantizeReport } from '../src/quantize/result.js';
import { fixture, repoRoot } from '../test/helpers.js';

interface Subject {
  name: string;
  model: string;
  inputs: string;
  calibration: string;
}

const EXPORT = `
import sys, torch, torchvision, numpy as np
torch.manual_seed(0)
m = torchvision.models.resnet18(weights=None)
with torch.no_grad():
    m.train(); m(torch.randn(16, 3, 96, 96)); m.eval()
x = torch.randn(8, 3, 96, 96)
out = sys.argv[1]
torch.onnx.export(m, x, out, input_names=['image'], output_names=['logits'], dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=17)
np.savez(out[:-5] + '.inputs.npz', image=x.numpy())
np.savez(out[:-5] + '.calibration.npz', image=torch.randn(32, 3, 96, 96).numpy())
`;

function resnet(): Subject {
  let model = process.env.TDEPLOY_RESNET;
  if (!model) {
    const dir = path.join(repoRoot, 'bench', 'out');
    fs.mkdirSync(dir, { recursive: true });
    model = path.join(dir, 'resnet18.onnx');
    if (!fs.existsSync(model)) execFileSync('/usr/bin/python3', ['-c', EXPORT, model], { stdio: 'inherit' });
  }
  const stem = model.slice(0, -'.onnx'.length);
  return { name: 'resnet18', model, inputs: `${stem}.inputs.npz`, calibration: `${stem}.calibration.npz` };
}

const subjects: Subject[] = [
  { name: 'encoder (BERT-like fixture)', model: fixture('encoder.onnx'), inputs: fixture('encoder.holdout.npz'), calibration: fixture('encoder.calibration.npz') },
  resnet(),
];
const worst = (r: QuantizeReport) => Math.min(...r.drift.outputs.map((o) => o.cosine ?? 1));
const out = path.join(repoRoot, 'bench', 'out');
fs.mkdirSync(out, { recursive: true });

for (const s of subjects) {
  for (const mode of ['dynamic', 'static'] as const) {
    const data = { inputs: s.inputs, ...(mode === 'static' ? { calibration: s.calibration } : {}) };
    const output = path.join(out, `fallback-${path.basename(s.model, '.onnx')}.${mode}.onnx`);
    const plain = await quantize(s.model, { output, to: 'int8', mode, ...data, gate: false });
    const c0 = worst(plain);
    const target = Number((1 - (1 - c0) / 2).toPrecision(6));
    const started = performance.now();
    const report = await quantize(s.model, { output, to: 'int8', mode, ...data, maxDriftCosine: target, fallback: true });
    const f = report.fallback!;
    const share = (100 * f.kept.length) / plain.nodesConverted;
    console.log(`${s.name}, int8 ${mode}: plain cosine ${c0.toPrecision(6)}; gate ${target}: ${f.met ? 'met' : 'MISSED'}, cosine ${worst(report).toPrecision(6)}, `
      + `kept ${f.kept.length} of ${plain.nodesConverted} converted nodes (${share.toFixed(1)} %: ${f.kept.map((k) => k.node).join(', ') || 'none'}), `
      + `${f.attempts} models measured, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const file of [output, `${output}.data`]) fs.rmSync(file, { force: true });
  }
}
