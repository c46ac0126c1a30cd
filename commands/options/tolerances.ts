import { type Command, Option } from 'commander';
import { z } from 'zod';
import { type GateOptions, type Tolerance, DEFAULT_GATE } from '../../src/accuracy/compare.js';
import { AtolSchema, toAtol } from '../../src/accuracy/gates.js';
import { InputError } from '../../src/errors.js';
import { parseOptions } from '../../src/validation.js';
import { collect } from './collect.js';

const BY_PRECISION = "by the model's precision, see below";

/**
 * The tolerance argument group: what counts as accurate enough, shared by check, convert and
 * quantize. An element passes when |actual - expected| <= atol + rtol * |expected|. `defaults`
 * are the command's own; without them the gate follows the model's precision.
 */
export function addToleranceOptions(command: Command, defaults?: Tolerance): Command {
  return command
    .addOption(new Option('--atol <x>', "absolute tolerance, or a share of each output's range, e.g. 1%").default(undefined, defaults ? String(defaults.atol) : BY_PRECISION))
    .addOption(new Option('--rtol <x>', 'relative tolerance, times |expected|').default(undefined, defaults ? String(defaults.rtol) : BY_PRECISION))
    .addOption(new Option('--tolerance <name=atol[:rtol]>', 'tolerance for one output').argParser(collect))
    .addOption(new Option('--min-cosine <c>', 'also fail an output whose cosine similarity is below c, e.g. 0.999').default(undefined, defaults ? undefined : BY_PRECISION))
    .addOption(new Option('--min-top1 <f>', 'also fail a classifier output whose top-1 agreement is below f (0..1)'))
    .addOption(new Option('--top-k <k>', 'k of the top-k agreement').default(String(DEFAULT_GATE.topK)))
    .addOption(new Option('--quantile <q>', 'error quantile to report (0..1)').default(String(DEFAULT_GATE.quantile)));
}

export interface ToleranceFlags {
  atol?: string;
  rtol?: string;
  tolerance?: string[];
  minCosine?: string;
  minTop1?: string;
  topK?: string;
  quantile?: string;
}

const number = (what: string) => z.string().trim().min(1, `expected ${what}`).pipe(z.coerce.number({ error: `expected ${what}` }));
const between = (lo: number, hi: number) => number(`a number from ${lo} to ${hi}`).pipe(z.number().min(lo, `expected a number from ${lo} to ${hi}`).max(hi, `expected a number from ${lo} to ${hi}`));
const nonNegative = number('a number >= 0').pipe(z.number().nonnegative('expected a number >= 0'));

const Flags = z.object({
  atol: AtolSchema.transform(toAtol).optional(),
  rtol: nonNegative.optional(),
  tolerance: z.array(z.string()).optional(),
  minCosine: between(-1, 1).optional(),
  minTop1: between(0, 1).optional(),
  topK: number('a positive integer').pipe(z.number().int('expected a positive integer').positive('expected a positive integer')).optional(),
  quantile: between(0, 1).optional(),
});

/** The options given, and only those: what is left out comes from the command's or the precision's default gate. */
export function gateOptions(raw: ToleranceFlags): Partial<GateOptions> {
  const flags = parseOptions(Flags, raw);
  const given: Partial<GateOptions> = {
    atol: flags.atol,
    rtol: flags.rtol,
    perOutput: perOutput(flags.tolerance ?? []),
    minCosine: flags.minCosine,
    minTop1: flags.minTop1,
    topK: flags.topK ?? DEFAULT_GATE.topK,
    quantile: flags.quantile ?? DEFAULT_GATE.quantile,
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

/** `--tolerance name=atol[:rtol]`; the name is everything before the last '=' (output names may hold ':' or '='). */
function perOutput(items: string[]): Record<string, Partial<Tolerance>> {
  const out: Record<string, Partial<Tolerance>> = {};
  for (const item of items) {
    const at = item.lastIndexOf('=');
    const [atol, rtol, ...rest] = item.slice(at + 1).split(':');
    const parsedAtol = AtolSchema.transform(toAtol).safeParse(atol);
    const parsedRtol = rtol === undefined ? undefined : Number(rtol);
    const bad = at <= 0 || rest.length > 0 || !parsedAtol.success || rtol === '' || (parsedRtol !== undefined && !(Number.isFinite(parsedRtol) && parsedRtol >= 0));
    if (bad) throw new InputError(`--tolerance ${item}: expected name=atol[:rtol] with numbers >= 0 (atol may be a share of the range, e.g. 1%), e.g. logits=1e-3:1e-2`, { kind: 'usage' });
    out[item.slice(0, at)] = { atol: parsedAtol.data, ...(parsedRtol === undefined ? {} : { rtol: parsedRtol }) };
  }
  return out;
}
