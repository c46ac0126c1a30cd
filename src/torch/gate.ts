import type { GateOptions } from '../accuracy/compare.js';

/** The check after a convert: torch and onnxruntime order float operations differently and agree to about 1e-4. */
export const CONVERT_GATE = { atol: 1e-4, rtol: 1e-3 } as const satisfies GateOptions;
