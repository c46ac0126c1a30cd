/**
 * The drift step: the quantized model against the original on the same inputs, judged by the
 * precision's default gate. It takes both models as loaded (the quantized one staged, not yet in
 * place), so a run measures before it commits and a search can measure candidate after candidate.
 */
import { type CheckReport, type ModelRef, compareModels } from '../accuracy/check.js';
import type { GateOptions } from '../accuracy/compare.js';
import { DEFAULT_GATES, describeGate } from '../accuracy/gates.js';
import { opt } from '../option-ref.js';
import type { Progress } from '../progress.js';
import type { TensorMap } from '../tensor/tensor.js';
import type { QuantizeOptions } from './options.js';

/** The precision's default gate, its cosine set by `maxDriftCosine`; none with `gate: false`. */
export function driftGate(options: Pick<QuantizeOptions, 'to' | 'maxDriftCosine' | 'gate'>): GateOptions | null {
  if (options.gate === false) return null;
  const gate = DEFAULT_GATES[options.to];
  return options.maxDriftCosine === undefined ? gate : { ...gate, minCosine: options.maxDriftCosine };
}

export async function measureDrift(
  original: ModelRef, quantized: ModelRef, data: TensorMap[], options: Pick<QuantizeOptions, 'to' | 'maxDriftCosine' | 'gate' | 'session'>,
  progress: Progress,
): Promise<CheckReport> {
  progress({ kind: 'phase', phase: 'measuring drift' });
  const gate = driftGate(options);
  const drift = await compareModels(original, quantized, data, gate, options.session, progress);
  const from = options.maxDriftCosine === undefined
    ? `the ${options.to} default; ${opt('maxDriftCosine')} sets the cosine`
    : `the ${options.to} default with the cosine of ${opt('maxDriftCosine')}`;
  drift.notes.push(gate
    ? `drift gate: ${describeGate(gate)} (${from}; ${opt('gate', false)} only reports)`
    : `no drift gate (${opt('gate', false)}): the errors are reported, not judged`);
  return drift;
}
