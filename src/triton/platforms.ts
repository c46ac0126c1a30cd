import path from 'node:path';
import type { ModelConfig } from './gen/model_config_pb.js';

/**
 * Triton's model kinds: `platform` and `backend` values and the file each expects in a version
 * folder (core src/constants.h). A config may name either field; both must agree.
 */
export interface ModelKind {
  platform?: string;
  backend?: string;
  /** the default file (or folder) in each version folder; none for ensembles */
  file?: string;
  /** instance kinds the backend can run */
  gpuOnly?: boolean;
  /** the TYPE_* names the backend cannot serve (model_configuration.md, "Datatypes") */
  unsupportedTypes?: string[];
}

export const MODEL_KINDS: ModelKind[] = [
  {
    platform: 'tensorrt_plan', backend: 'tensorrt', file: 'model.plan', gpuOnly: true,
    unsupportedTypes: ['TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT16', 'TYPE_FP64', 'TYPE_STRING'],
  },
  { platform: 'onnxruntime_onnx', backend: 'onnxruntime', file: 'model.onnx', unsupportedTypes: ['TYPE_BF16'] },
  { platform: 'pytorch_libtorch', backend: 'pytorch', file: 'model.pt' },
  { platform: 'libtorch', backend: 'pytorch', file: 'model.pt' },
  { platform: 'torch_aoti', backend: 'pytorch', file: 'model.pt2' },
  { platform: 'tensorflow_graphdef', backend: 'tensorflow', file: 'model.graphdef' },
  { platform: 'tensorflow_savedmodel', backend: 'tensorflow', file: 'model.savedmodel' },
  { backend: 'openvino', file: 'model.xml' },
  { backend: 'python', file: 'model.py' },
  { platform: 'ensemble' },
];

export const ENSEMBLE = 'ensemble';

/** The kind a config describes, or a reason it describes none (or two that disagree). */
export function kindOf(config: ModelConfig): ModelKind | { problem: string } {
  const { platform, backend } = config;
  if (!platform && !backend) return { problem: "sets neither 'platform' nor 'backend'" };
  const byPlatform = platform ? MODEL_KINDS.filter((k) => k.platform === platform) : [];
  const byBackend = backend ? MODEL_KINDS.filter((k) => k.backend === backend) : [];
  if (platform && byPlatform.length === 0) return backend && byBackend.length === 0 ? { backend } : { problem: `unknown platform '${platform}'` };
  if (!platform) return byBackend[0] ?? { backend };
  if (backend && !byPlatform.some((k) => k.backend === backend)) {
    return { problem: `platform '${platform}' does not go with backend '${backend}'` };
  }
  return byPlatform[0];
}

/** The model files tdeploy packages, by extension, and the platform each is served by. */
const SOURCE_PLATFORMS: Record<string, string> = {
  '.onnx': 'onnxruntime_onnx',
  '.plan': 'tensorrt_plan',
  '.engine': 'tensorrt_plan',
};

export type SourceKind = ModelKind & { platform: string; file: string };

export function sourceKind(file: string): SourceKind | undefined {
  const platform = SOURCE_PLATFORMS[path.extname(file).toLowerCase()];
  if (!platform) return undefined;
  return MODEL_KINDS.find((k): k is SourceKind => k.platform === platform && k.file !== undefined);
}

export const SOURCE_EXTENSIONS = Object.keys(SOURCE_PLATFORMS);
