import { type Command, Option } from 'commander';
import { InputError } from '../../src/errors.js';

/** The input-data argument group: given inputs, or how to generate them. */
export function addInputOptions(command: Command): Command {
  return command
    .addOption(new Option('--inputs <file>', 'input tensors (.npz keyed by input name, or an ONNX test data folder)'))
    .addOption(new Option('--seed <n>', 'seed for generated inputs').default('0'))
    .addOption(new Option('--int-range <lo..hi>', 'generated integers are drawn from lo <= x < hi').default('0..100'));
}

export interface InputFlags {
  inputs?: string;
  seed?: string;
  intRange?: string;
}

export interface InputChoice {
  inputs?: string;
  seed: number;
  intRange: [number, number];
}

export function inputChoice(raw: InputFlags): InputChoice {
  const seed = Number(raw.seed ?? '0');
  if (!Number.isInteger(seed) || seed < 0) throw new InputError(`--seed: '${raw.seed}' is not a non-negative integer`, { kind: 'usage' });
  const range = /^(-?\d+)\.\.(-?\d+)$/.exec(raw.intRange ?? '0..100');
  if (!range || Number(range[1]) >= Number(range[2])) {
    throw new InputError(`--int-range: '${raw.intRange}' is not lo..hi with lo < hi, e.g. 0..100`, { kind: 'usage' });
  }
  return { inputs: raw.inputs, seed, intRange: [Number(range[1]), Number(range[2])] };
}
