import fs from 'node:fs';
import type { OutputSet } from '../io/atomic.js';
import { type OnnxModel, hasExternalData } from '../onnx/model.js';
import { saveModel } from '../onnx/save.js';

/**
 * Puts torch's export at `output` within `set`. A model under 2 GB is one file and is renamed into
 * place. Over 2 GB, torch writes one side file per large tensor into the model's folder; those are
 * gathered into one `<output>.data` that travels with the model. Returns that file, if any.
 */
export async function placeModel(model: OnnxModel, output: string, set: OutputSet): Promise<string | undefined> {
  if (!hasExternalData(model)) {
    await fs.promises.rename(model.path, await set.temp(output));
    return undefined;
  }
  return (await saveModel(model, output, { outputs: set, externalData: 'always' })).dataFile;
}
