/**
 * Text for a model's BYTES inputs (a tokenizer ensemble's `TEXT`): one sample per line of a file.
 * Request k fills its string elements with the lines that follow request k-1's, so successive
 * requests carry different texts (and lengths), up to a bounded set of distinct bodies.
 */
import { InputError } from '../errors.js';
import type { TensorInfo } from '../onnx/signature.js';
import { opt } from '../option-ref.js';
import { readText } from '../io/read.js';
import type { TensorMap } from '../tensor/tensor.js';

/** Distinct request bodies made from a text file at most: more would only cost memory. */
const MAX_BODIES = 256;

export async function requestFeeds(feeds: TensorMap, inputs: TensorInfo[], textFile: string | undefined): Promise<{ feeds: TensorMap[]; notes: string[] }> {
  const strings = inputs.filter((i) => i.dtype === 'string').map((i) => i.name);
  if (!textFile) {
    return { feeds: [feeds], notes: strings.length ? [`BYTES input${strings.length > 1 ? 's' : ''} ${strings.join(', ')} take generated words; give real text with ${opt('textFile')}`] : [] };
  }
  if (!strings.length) throw new InputError(`${opt('textFile', textFile)}: the model has no BYTES input to take text`, { kind: 'usage' });
  const lines = (await readText(textFile, 'text file')).split(/\r?\n/).filter((l) => l.trim() !== '');
  if (!lines.length) throw new InputError(`${opt('textFile', textFile)} has no text: one sample per line`);
  const perRequest = strings.reduce((n, name) => n + feeds.get(name)!.data.length, 0);
  const count = Math.min(MAX_BODIES, Math.ceil(lines.length / perRequest));
  let next = 0;
  const out = Array.from({ length: count }, () => {
    const copy: TensorMap = new Map(feeds);
    for (const name of strings) {
      const tensor = feeds.get(name)!;
      copy.set(name, { ...tensor, data: Array.from({ length: tensor.data.length }, () => lines[next++ % lines.length]) });
    }
    return copy;
  });
  return { feeds: out, notes: [`${lines.length} text line${lines.length > 1 ? 's' : ''} from ${textFile} in ${count} distinct request${count > 1 ? 's' : ''}`] };
}
