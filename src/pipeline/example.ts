/** The bundled example: the fixtures' small encoder, from TorchScript when torch is at hand. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { choosePython, hasTorch, pythonsWithTorch } from '../torch/python.js';
import { type RunConfig, readConfig } from './config.js';

export const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../templates/example/tdeploy.config.json', import.meta.url));
const EXAMPLE_ONNX = fileURLToPath(new URL('../../../fixtures/encoder.onnx', import.meta.url));
const EXAMPLE_REFERENCE = fileURLToPath(new URL('../../../fixtures/encoder.reference.npz', import.meta.url));

/**
 * The example's config, writing to `<cwd>/tdeploy-out`. It starts from the TorchScript encoder
 * with the first Python that has torch, or from the bundled ONNX export when none has it.
 */
export async function exampleConfig(cwd: string, findTorch = pythonWithTorch): Promise<{ config: RunConfig; notes: string[] }> {
  const config = await readConfig(EXAMPLE_CONFIG);
  config.output = path.resolve(cwd, 'tdeploy-out');
  const python = await findTorch();
  if (python) {
    config.model.python = python;
    return { config, notes: [`the bundled example, converted from TorchScript with ${python}`] };
  }
  // What convert would be told about inputs does not apply to an ONNX source; its reference does.
  config.model = { source: EXAMPLE_ONNX, name: config.model.name, reference: EXAMPLE_REFERENCE };
  return {
    config,
    notes: [`no Python with torch found (tried ${choosePython().command} and the python3 interpreters on PATH): the bundled example starts from its ONNX export, fixtures/encoder.onnx`],
  };
}

/** The chosen interpreter when it has torch, else the first other one on this machine that has it. */
async function pythonWithTorch(): Promise<string | undefined> {
  const chosen = choosePython();
  return (await hasTorch(chosen.command)) ? chosen.command : (await pythonsWithTorch(chosen.command))[0];
}
