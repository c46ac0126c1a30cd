import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CATALOG } from '../../commands/catalog.js';
import { buildProgram } from '../../commands/program.js';

test('the top-level help lists every command as the loaded command would; a named command is loaded alone', async () => {
  const top = await buildProgram(['node', 'tdeploy', '--help']);
  const help = top.createHelp();
  const listed = top.commands.map((c) => [help.subcommandTerm(c), c.description()]);
  assert.deepEqual(listed.map(([term]) => term.split(' ')[0]), Object.keys(CATALOG));
  assert.equal(listed[0][0], 'inspect [options] <model>');
  const globals = top.commands[0].options.length;
  assert.ok(top.commands.every((c) => c.options.length === globals), 'listings carry the global options alone');
  for (const [i, name] of Object.keys(CATALOG).entries()) {
    const program = await buildProgram(['node', 'tdeploy', name, '--json']);
    const loaded = program.commands[i];
    assert.deepEqual([help.subcommandTerm(loaded), loaded.description()], listed[i], name);
    const others = program.commands.filter((c) => c !== loaded);
    assert.ok(others.every((c) => c.options.length === globals), `${name} is loaded alone`);
  }
  const quantize = top.commands.find((c) => c.name() === 'quantize');
  assert.ok(!quantize?.options.some((o) => o.long === '--max-drift-cosine'), 'the top-level help loaded no command');
});
