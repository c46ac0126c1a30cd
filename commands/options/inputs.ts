import { type Command, Option } from 'commander';
import { z } from 'zod';
import { parseOptions } from '../../src/validation.js';

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

/** The generator keeps 32 bits of state: a larger seed would silently give another seed's inputs. */
const MAX_SEED = 2 ** 32 - 1;
const seedText = `expected an integer from 0 to ${MAX_SEED}`;
const rangeText = 'expected lo..hi with lo < hi, e.g. 0..100';

const Flags = z.object({
  inputs: z.string().optional(),
  seed: z.string().trim().regex(/^\d+$/, seedText).transform(Number).pipe(z.number().max(MAX_SEED, seedText)).default(0),
  intRange: z.string().trim()
    .regex(/^-?\d+\.\.-?\d+$/, rangeText)
    .transform((text) => text.split('..').map(Number) as [number, number])
    .refine(([lo, hi]) => lo < hi && Number.isSafeInteger(lo) && Number.isSafeInteger(hi), rangeText)
    .default([0, 100]),
});

export function inputChoice(raw: InputFlags): InputChoice {
  return parseOptions(Flags, raw);
}
