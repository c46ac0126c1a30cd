import fs from 'node:fs';
import { type Batches, readSamples } from '../../accuracy/samples.js';
import { InputError, fileError } from '../../errors.js';
import type { ModelSignature } from '../../onnx/signature.js';

export { DEFAULT_BATCH } from '../../accuracy/samples.js';

/** Calibration data: readSamples, with errors saying that it was the calibration data. */
export async function readCalibration(source: string, sig: ModelSignature, batchSize?: number): Promise<Batches> {
  try {
    fs.statSync(source);
  } catch (error) {
    throw fileError(source, error, 'calibration data');
  }
  try {
    const read = await readSamples(source, sig, batchSize);
    if (read.batches.length === 0) throw new InputError(`${source} holds no samples`);
    return read;
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new InputError(`calibration data ${error.message}`, { hint: error.hint, kind: error.kind, cause: error });
  }
}

