import { create } from '@bufbuild/protobuf';
import { type ModelProto, ValueInfoProtoSchema } from '../../onnx/gen/onnx_pb.js';
import { inferTypes } from '../types.js';
import { type Term, num, sameTerm, size } from './shape-expr.js';

/**
 * Two sets of stand-ins for the inputs' symbolic dims: small primes (a model may only take so
 * many positions: BERT's embeddings fail to type-check past 512), different in each set, so that
 * a dim inferred as the same symbol's stand-in in both runs is that symbol and nothing else (a
 * static size or a size computed from the stand-ins cannot be both).
 */
const PROBES = [[13, 17, 19, 23, 29, 31, 37, 41], [43, 47, 53, 59, 61, 67, 71, 73]];

/**
 * The shapes of the graph's values as `Term`s of its inputs' symbolic dims (`batch`, `seq`), where
 * ONNX Runtime infers them. Its inferred types name no symbolic dim (they come back as ''), so the
 * graph is inferred with each symbolic input dim fixed to a stand-in, twice, and only what both
 * runs agree on is kept. The attention mask of transformers 5 needs this: it reads the batch and
 * sequence of the embeddings' output (`Shape`), a value no single attention's pattern knows the
 * shape of. A graph that does not type-check at the stand-ins gives no shapes.
 */
export async function symbolicShapes(proto: ModelProto, where: string): Promise<Map<string, Term[]>> {
  const runs: Map<string, Term[]>[] = [];
  for (const probes of PROBES) {
    const run = await probed(proto, where, probes);
    if (!run) return new Map();
    runs.push(run);
  }
  const [first, second] = runs;
  const agreed = new Map<string, Term[]>();
  for (const [name, terms] of first) {
    const other = second.get(name);
    if (other?.length === terms.length && terms.every((t, i) => sameTerm(t, other[i]))) agreed.set(name, terms);
  }
  return agreed;
}

async function probed(proto: ModelProto, where: string, probes: number[]): Promise<Map<string, Term[]> | undefined> {
  const assigned = new Map<string, number>();
  const input = proto.graph!.input.map((v) => {
    if (v.type?.value.case !== 'tensorType' || !v.type.value.value.shape) return v;
    const dim = v.type.value.value.shape.dim.map((d) => {
      if (d.value.case !== 'dimParam') return d;
      if (!assigned.has(d.value.value) && assigned.size < probes.length) assigned.set(d.value.value, probes[assigned.size]);
      const probe = assigned.get(d.value.value);
      return probe === undefined ? d : { value: { case: 'dimValue' as const, value: BigInt(probe) } };
    });
    return create(ValueInfoProtoSchema, { name: v.name, type: { value: { case: 'tensorType', value: { elemType: v.type.value.value.elemType, shape: { dim } } } } });
  });
  if (assigned.size === 0) return undefined;
  const names = new Map([...assigned].map(([name, probe]) => [probe, name]));
  const types = await inferTypes({ ...proto, graph: { ...proto.graph!, input } }, where).catch(() => undefined);
  if (!types) return undefined;
  const shapes = new Map<string, Term[]>();
  for (const [name, type] of types) {
    const terms = type.shape?.map((d) => (typeof d !== 'number' ? undefined : names.has(d) ? size(names.get(d)!) : num(d)));
    if (terms?.every(Boolean)) shapes.set(name, terms as Term[]);
  }
  return shapes;
}
