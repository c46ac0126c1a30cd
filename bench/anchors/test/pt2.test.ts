/**
 * `tdeploy convert` of torch.export archives (.pt2) with a torch 2.x from PyPI (the anchors venv): a model
 * with dynamic batch and sequence saved by torch.export.save, converted, and its ONNX outputs compared with the
 * eager model's own outputs computed separately (not with the reference convert wrote).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../../../test/helpers.js';
import { anchorsPython, anchorsRun } from './venv.js';

const SAVE = `
import sys, numpy as np, torch
from torch import nn
from torch.export import Dim
torch.manual_seed(0)
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 64)
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(64, 5)
    def forward(self, input_ids, attention_mask):
        x = self.encoder(self.embed(input_ids), src_key_padding_mask=attention_mask == 0)
        return self.head(x).softmax(-1), x.mean(1)
model = Tagger().eval()
ids = torch.randint(0, 1000, (2, 12))
mask = torch.ones(2, 12, dtype=torch.long)
batch, seq = Dim('batch', min=1, max=64), Dim('seq', min=2, max=512)
program = torch.export.export(model, (ids, mask), dynamic_shapes={'input_ids': {0: batch, 1: seq}, 'attention_mask': {0: batch, 1: seq}})
torch.export.save(program, sys.argv[1])
# Held-out inputs of another shape, with padding, and the eager model's outputs on them.
ids = torch.randint(0, 1000, (3, 20))
mask = torch.ones(3, 20, dtype=torch.long)
mask[1, 15:] = 0
with torch.no_grad():
    probs, pooled = model(ids, mask)
np.savez(sys.argv[2], input_ids=ids.numpy(), attention_mask=mask.numpy(), probs=probs.numpy(), pooled=pooled.numpy())
print(torch.__version__)
`;

test('a torch.export archive converts with torch 2.x and matches the eager model on other shapes', () => {
  const dir = tempDir();
  const archive = path.join(dir, 'tagger.pt2');
  const expected = path.join(dir, 'eager.npz');
  const version = anchorsRun(SAVE, [archive, expected]).trim();
  assert.match(version, /^2\.\d+/);

  const onnx = path.join(dir, 'tagger.onnx');
  const convert = runCli(['convert', archive, '-o', onnx, '--input', 'input_ids:int64:batch,seq', '--input', 'attention_mask:int64:batch,seq',
    '--output-names', 'probs,pooled', '--python', anchorsPython, '--json']);
  assert.equal(convert.code, 0, convert.stderr);
  const report = JSON.parse(convert.stdout);
  assert.equal(report.torch, version);
  assert.deepEqual(report.inputs.map((i: { shape: unknown }) => i.shape), [['batch', 'seq'], ['batch', 'seq']]);
  assert.deepEqual(report.outputs.map((o: { shape: unknown }) => o.shape), [['batch', 'seq', 5], ['batch', 64]]);

  const check = runCli(['check', onnx, '--reference', expected, '--atol', '1e-4', '--rtol', '1e-3', '--json']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const outputs = JSON.parse(check.stdout).outputs;
  assert.deepEqual(outputs.map((o: { shape: number[] }) => o.shape), [[3, 20, 5], [3, 64]]);
  assert.ok(outputs.every((o: { maxAbsError: number }) => o.maxAbsError < 1e-4), JSON.stringify(outputs));
});
