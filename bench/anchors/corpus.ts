import path from 'node:path';
import type { CorpusModel } from './table.js';

/**
 * Real-model corpus files (scripts/corpus/fetch.sh) that need no convert: already ONNX, image inputs.
 * onnxruntime's transformers optimizer does not apply to them, so only its quantizers are compared.
 * resnet50, densenet121 and efficientnet_b0 come from `TDEPLOY_CORPUS_EXTRA=... scripts/corpus/fetch.sh`.
 */
export function corpusModels(corpusDir: string): Record<string, CorpusModel> {
  const torchvision = (name: string): CorpusModel => ({ file: path.join(corpusDir, 'torchvision', `${name}.onnx`), inputs: ['image:float32:batch,3,224,224'] });
  return {
    resnet18: torchvision('resnet18'),
    mobilenet_v3_small: torchvision('mobilenet_v3_small'),
    efficientnet_b0: torchvision('efficientnet_b0'),
    resnet50: torchvision('resnet50'),
    densenet121: torchvision('densenet121'),
    // The text detector at the size of a small page photo: its Convs are sized for hundreds of pixels.
    'ppocr-det': { file: path.join(corpusDir, 'npm', 'ch_PP-OCRv4_det_infer.onnx'), inputs: ['x:float32:batch,3,320,320'] },
    'ppocr-rec': { file: path.join(corpusDir, 'npm', 'ch_PP-OCRv4_rec_infer.onnx'), inputs: ['x:float32:batch,3,48,320'] },
  };
}
