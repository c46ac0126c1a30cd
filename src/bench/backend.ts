import path from 'node:path';
import { InputError } from '../errors.js';
import type { BenchBackend } from './backend-types.js';

interface BackendRow {
  extensions: string[];
  load: () => Promise<BenchBackend>;
}

/** Which backend runs which kind of file; a new runtime is one more row. */
const backends: BackendRow[] = [
  { extensions: ['.onnx'], load: async () => (await import('./onnx-backend.js')).onnxBackend },
  { extensions: ['.plan', '.engine', '.trt'], load: async () => (await import('./trtexec-backend.js')).trtexecBackend },
];

export async function backendFor(model: string): Promise<BenchBackend> {
  const ext = path.extname(model).toLowerCase();
  const row = backends.find((b) => b.extensions.includes(ext));
  if (!row) {
    throw new InputError(`cannot benchmark ${model}: unknown model type '${ext || '(no extension)'}'`, {
      hint: `tdeploy bench runs ${backends.flatMap((b) => b.extensions).join(', ')} files`,
    });
  }
  return row.load();
}
