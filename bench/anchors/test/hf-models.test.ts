/**
 * The models transformer-deploy's users deploy, built by transformers from their configs (bench/anchors/models.py),
 * through the whole chain with tdeploy's defaults: convert (module:factory, the anchors venv's torch), quantize
 * fp16 and int8 under their default drift gates, check both against torch's reference outputs, bench the three,
 * package the int8 model (text models with a tokenizer step: a WordPiece tokenizer this test builds offline) and
 * verify the repository. TDEPLOY_ANCHORS_MODELS=bert-base,gpt2 picks models.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { type CliResult, runCli, tempDir } from '../../../test/helpers.js';
import type { HfModel } from '../table.js';
import { anchorsDir, anchorsPython, anchorsRun } from './venv.js';

const catalog = JSON.parse(anchorsRun('import runpy, json; print(json.dumps(runpy.run_path("models.py")["MODELS"]))')) as Record<string, HfModel>;
const names = process.env.TDEPLOY_ANCHORS_MODELS?.split(',') ?? Object.keys(catalog);
const SEQ = 32;
const mib = (file: string) => +(fs.statSync(file).size / 2 ** 20).toFixed(1);

const WORDPIECE = `
import sys
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
words = "the a model serves text to triton and onnx runtime quantized int8 fp16 hello world".split()
letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
vocab = {token: i for i, token in enumerate(specials + words + letters + ["##" + l for l in letters])}
tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
tokenizer.save(sys.argv[1])
print(tokenizer.encode("Hello quantized worlds").ids)
`;

function json(result: CliResult): any {
  assert.equal(result.code, 0, `exit ${result.code}\n${result.stderr.slice(-4000)}`);
  return JSON.parse(result.stdout);
}

for (const name of names) {
  const model = catalog[name];
  test(`${name}: convert, fp16, int8, check, bench and package with tdeploy's defaults`, { skip: model ? false : `no model ${name} in models.py` }, (t) => {
    const dir = tempDir();
    const file = (base: string) => path.join(dir, base);
    const text = model.inputs.some((spec) => spec.startsWith('input_ids:'));

    const converted = json(runCli(['convert', `models:${model.factory}`, '--python-path', anchorsDir, '--python', anchorsPython, '-o', file('fp32.onnx'),
      ...model.inputs.flatMap((spec) => ['--input', spec]), '--output-names', model.outputs.join(','), ...(text ? ['--example-dim', `seq=${SEQ}`] : []), '--json']));
    assert.equal(converted.check.passed, true);
    assert.deepEqual(converted.outputs.map((o: { name: string }) => o.name), model.outputs);
    assert.equal(converted.outputs[0].shape[0], 'batch');

    const figures: Record<string, unknown> = { fp32MiB: mib(file('fp32.onnx')) };
    for (const to of ['fp16', 'int8']) {
      const quantized = json(runCli(['quantize', file('fp32.onnx'), '-o', file(`${to}.onnx`), '--to', to, '--json']));
      assert.equal(quantized.drift.passed, true);
      assert.ok(fs.statSync(file(`${to}.onnx`)).size < fs.statSync(file('fp32.onnx')).size * (to === 'fp16' ? 0.55 : 0.4));
      // the fp16 model has float16 I/O (no --keep-io-types): check widens both sides and says so
      const checked = json(runCli(['check', file(`${to}.onnx`), '--reference', file('fp32.reference.npz'), '--json']));
      assert.equal(checked.passed, true);
      const cosines = checked.outputs.map((o: { cosine: number }) => o.cosine);
      assert.ok(cosines.every((c: number) => c >= (to === 'fp16' ? 0.999 : 0.99)), JSON.stringify(cosines));
      if (to === 'fp16') assert.ok(checked.notes.some((n: string) => n.startsWith('outputs compared across float types (both widened to float64)')), checked.notes.join('\n'));
      Object.assign(figures, { [`${to}MiB`]: mib(file(`${to}.onnx`)), [`${to}Cosine`]: cosines, [`${to}DriftCosine`]: quantized.drift.outputs.map((o: { cosine: number }) => o.cosine) });
    }

    const bench = json(runCli(['bench', file('fp32.onnx'), file('fp16.onnx'), file('int8.onnx'), '--iterations', '3', '--warmup', '1',
      ...(text ? ['--dim', `seq=${SEQ}`] : []), '--json']));
    assert.equal(bench.results.length, 3);
    assert.ok(bench.results.every((r: { latencyMs: { p50: number } }) => r.latencyMs.p50 > 0));
    figures.p50Ms = bench.results.map((r: { latencyMs: { p50: number } }) => r.latencyMs.p50);
    t.diagnostic(`${name} ${JSON.stringify(figures)}`);

    const repo = file('models');
    const tokenizer = file('tokenizer');
    if (text) {
      fs.mkdirSync(tokenizer);
      // [CLS] hello quantized world ##s [SEP]
      assert.equal(anchorsRun(WORDPIECE, [path.join(tokenizer, 'tokenizer.json')]).trim(), '[2, 17, 14, 18, 63, 3]');
    }
    const packaged = json(runCli(['package', file('int8.onnx'), '-o', repo, '--name', name.replace(/-/g, '_'), ...(text ? ['--tokenizer', tokenizer] : []), '--json']));
    const folders = packaged.models.map((m: { name: string }) => m.name).sort();
    const base = name.replace(/-/g, '_');
    assert.deepEqual(folders, text ? [base, `${base}_pipeline`, `${base}_tokenize`] : [base]);
    const verified = json(runCli(['package', '--verify', repo, '--json']));
    assert.equal(verified.passed, true);
  });
}
