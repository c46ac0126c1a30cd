import { create } from '@bufbuild/protobuf';
import { type GraphProto, type NodeProto, TensorProto_DataType, ValueInfoProtoSchema } from '../../onnx/gen/onnx_pb.js';
import { tensorToProto } from '../../onnx/tensor-proto.js';
import { allNames, attr, makeNode, subgraphs } from '../graph.js';

/** The attributes of a Scan that hold one entry per scan output. */
const SCAN_OUTPUT_LISTS = ['scan_output_axes', 'scan_output_directions'];

/**
 * Makes values main-graph outputs so that ONNX Runtime returns them, values of If/Loop/Scan
 * bodies included (it returns main-graph values only). A body value becomes an output of its body
 * and of the node holding it, up to the main graph: an If's other branch gives an empty tensor in
 * its place (the branch that did not run holds no values), a Loop or Scan stacks it over the
 * iterations as a scan output. Returns the name each value is fetched under, and an undo that
 * leaves the graphs as they were.
 */
export function exposeValues(main: GraphProto, values: string[]): { fetch: Map<string, string>; undo: () => void } {
  const owner = new Map<string, GraphProto>();
  const parent = new Map<GraphProto, { node: NodeProto; graph: GraphProto }>();
  const index = (graph: GraphProto) => {
    for (const input of graph.input) owner.set(input.name, graph);
    for (const node of graph.node) {
      for (const output of node.output) owner.set(output, graph);
      for (const body of subgraphs(node)) {
        parent.set(body, { node, graph });
        index(body);
      }
    }
  };
  index(main);
  const names = allNames(main);
  const fresh = (base: string) => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  const undos: (() => void)[] = [];
  const append = <T>(list: T[], ...items: T[]) => {
    const length = list.length;
    list.push(...items);
    undos.push(() => { list.length = length; });
  };
  const floatOutput = (name: string) => create(ValueInfoProtoSchema, { name, type: { value: { case: 'tensorType', value: { elemType: TensorProto_DataType.FLOAT } } } });
  const expose = (value: string, graph: GraphProto): string => {
    const up = parent.get(graph);
    const at = graph.output.findIndex((o) => o.name === value);
    if (!up) {
      if (at < 0) append(main.output, create(ValueInfoProtoSchema, { name: value }));
      return value;
    }
    // a body output already leaves its node: a Loop's outputs skip the body's condition
    if (at >= 0) return expose(up.node.output[up.node.opType === 'Loop' ? at - 1 : at], up.graph);
    append(graph.output, floatOutput(value));
    if (up.node.opType === 'If') {
      for (const other of subgraphs(up.node).filter((g) => g !== graph)) {
        const empty = fresh(`${value}_not_run`);
        append(other.node, makeNode('Constant', [], [empty], { attributes: [attr.tensor('value', tensorToProto('', { dtype: 'float32', shape: [0], data: new Float32Array(0) }))] }));
        append(other.output, floatOutput(empty));
      }
    }
    for (const list of up.node.attribute.filter((a) => up.node.opType === 'Scan' && SCAN_OUTPUT_LISTS.includes(a.name))) append(list.ints, 0n);
    const outer = fresh(`${value}_calibration`);
    append(up.node.output, outer);
    return expose(outer, up.graph);
  };
  const fetch = new Map(values.map((value) => [value, expose(value, owner.get(value) ?? main)]));
  return { fetch, undo: () => undos.reverse().forEach((u) => u()) };
}
