import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { flagSpeller } from '../../commands/options/spelling.js';
import { buildProgram, loadAllCommands } from '../../commands/program.js';
import { opt, respell, respellAll } from '../../src/option-ref.js';
import { configSpeller } from '../../src/pipeline/spelling.js';
import { TRTEXEC_FLAGS } from '../../src/trt/flags.js';
import { repoRoot } from '../helpers.js';

test('the CLI spells option references as its flags, per command where they differ', () => {
  const cli = (text: string, command?: string) => respell(text, flagSpeller(command));
  assert.equal(cli(`${opt('maxDriftCosine', 0.99)} and ${opt('fuse', false)}`), '--max-drift-cosine 0.99 and --no-fuse');
  assert.equal(cli(`${opt('precision', 'fp16')}, ${opt('blockOps')}, ${opt('shapes', 'x:1x2')}, ${opt('extra', '--verbose')}`), '--fp16, --block-op, --shape x:1x2, --extra=--verbose');
  assert.equal(cli(opt('inputs', 'x:float32:4'), 'convert'), '--input x:float32:4');
  assert.equal(cli(opt('inputs', 'data.npz'), 'check'), '--inputs data.npz');
  assert.equal(cli(`${opt('output')} here`, 'quantize'), '-o here');
  assert.equal(cli("text without references stays as written: 'x', `Not a key`, --dim"), "text without references stays as written: 'x', `Not a key`, --dim");
});

test('the run config spells them as key paths inside a step', () => {
  const spell = configSpeller([{ path: 'quantize[2]', keys: ['maxDriftCosine', 'to'] }, { path: '', keys: ['calibration'] }]);
  assert.equal(respell(`${opt('maxDriftCosine', 0.99)}, ${opt('calibration')}, ${opt('perOutput')}, ${opt('session')}`, spell), 'quantize[2].maxDriftCosine: 0.99, calibration, tolerance, session');
  assert.deepEqual(respellAll({ notes: [opt('to', 'int8')], n: 1, nested: [{ reason: opt('to') }] }, spell), { notes: ['quantize[2].to: int8'], n: 1, nested: [{ reason: 'quantize[2].to' }] });
});

/** Every .ts file under a folder, generated code aside. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !(e.parentPath ?? e.path).includes(`${path.sep}gen`))
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

test('the library never names a flag of the CLI: it speaks option keys (trtexec\'s own flags aside)', async () => {
  const program = await buildProgram(['node', 'tdeploy']);
  const flags = new Set([program, ...(await loadAllCommands())].flatMap((c) => c.options.map((o) => o.long)).filter((f): f is string => f !== undefined));
  assert.ok(flags.has('--max-drift-cosine') && flags.has('--no-fuse') && flags.has('--json'), 'every command is loaded');
  const found: string[] = [];
  for (const file of sources(path.join(repoRoot, 'src'))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const [flag] of text.matchAll(/--[a-z][a-z0-9-]*/g)) {
      if (flags.has(flag) && !Object.hasOwn(TRTEXEC_FLAGS, flag)) found.push(`${path.relative(repoRoot, file)}: ${flag}`);
    }
  }
  assert.deepEqual(found, []);
});
