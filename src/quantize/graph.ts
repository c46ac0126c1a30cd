import { create } from '@bufbuild/protobuf';
import { type GraphProto, type ModelProto, type NodeProto, type TensorProto, OperatorSetIdProtoSchema } from '../onnx/gen/onnx_pb.js';
import { isOnnxOp, subgraphs, weightTensors } from '../onnx/nodes.js';
import { tensorShape } from '../onnx/tensor-proto.js';
import { onnxFromDtype } from '../tensor/dtype.js';
import { elementCount } from '../tensor/tensor.js';

// The quantizers' toolkit: the ONNX node builders and walkers they share with the rest of src/onnx.
export { type NodeSpec, attr, isOnnxOp, makeNode, subgraphs } from '../onnx/nodes.js';

/**
 * What the rewrites need to know about a graph: who produces and who reads each value, which
 * values are initializers or graph outputs, and fresh names for what they add.
 */
export interface GraphView {
  graph: GraphProto;
  initializers: Map<string, TensorProto>;
  producers: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
  graphOutputs: Set<string>;
  names: Set<string>;
}

/**
 * `names` is the set fresh names are checked against: give a subgraph the names of the whole
 * model, since ONNX forbids a subgraph to reuse a name of an enclosing scope.
 */
export function viewGraph(graph: GraphProto, names = new Set<string>()): GraphView {
  const producers = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) names.add(v.name);
  for (const tensor of graph.initializer) names.add(tensor.name);
  for (const node of graph.node) {
    names.add(node.name);
    for (const output of node.output) {
      if (output) producers.set(output, node);
      names.add(output);
    }
    for (const input of new Set([...node.input, ...subgraphFreeNames(node)])) {
      if (!input) continue;
      const list = consumers.get(input);
      if (list) list.push(node);
      else consumers.set(input, [node]);
    }
  }
  return {
    graph,
    initializers: new Map(graph.initializer.map((t) => [t.name, t])),
    producers,
    consumers,
    graphOutputs: new Set(graph.output.map((o) => o.name)),
    names,
  };
}

/** A name not yet used in the graph, derived from `base`; it is reserved on return. */
export function freshName(view: GraphView, base: string): string {
  let name = base;
  for (let i = 1; view.names.has(name); i++) name = `${base}_${i}`;
  view.names.add(name);
  return name;
}

/**
 * The constant a value holds, looking through Identity nodes: an initializer, or the tensor of
 * a Constant node. Undefined for values computed at run time.
 */
export function constantTensor(view: GraphView, name: string): TensorProto | undefined {
  for (let current = name, hops = 0; hops < 64; hops++) {
    const initializer = view.initializers.get(current);
    if (initializer) return isGraphInput(view, current) ? undefined : initializer;
    const producer = view.producers.get(current);
    if (!producer || producer.domain !== '' && producer.domain !== 'ai.onnx') return undefined;
    if (producer.opType === 'Constant') return producer.attribute.find((a) => a.name === 'value')?.t;
    if (producer.opType !== 'Identity') return undefined;
    current = producer.input[0];
  }
  return undefined;
}

/** An initializer that is also a graph input can be overridden at run time, so it is not a constant. */
function isGraphInput(view: GraphView, name: string): boolean {
  return view.graph.input.some((i) => i.name === name);
}

/**
 * Names a node reads from the enclosing scope through its subgraphs (If/Loop/Scan bodies):
 * inputs of subgraph nodes that the subgraph does not define itself.
 */
export function subgraphFreeNames(node: NodeProto): string[] {
  return [...new Set(subgraphs(node).flatMap(freeNames))];
}

/** Names a graph's nodes read that the graph does not define: what a subgraph takes from outside. */
export function freeNames(graph: GraphProto): string[] {
  const free = new Set<string>();
  const defined = new Set<string>([...graph.input.map((i) => i.name), ...graph.initializer.map((t) => t.name)]);
  for (const inner of graph.node) {
    for (const name of [...inner.input, ...subgraphFreeNames(inner)]) if (name && !defined.has(name)) free.add(name);
    for (const output of inner.output) defined.add(output);
  }
  return [...free];
}

/** float32 elements of the weights a graph and its subgraphs hold: initializers and Constant values. */
export function float32WeightElements(graph: GraphProto): number {
  const FLOAT = onnxFromDtype('float32');
  return weightTensors(graph).reduce((n, t) => n + (t.dataType === FLOAT ? elementCount(tensorShape(t)) : 0), 0);
}

/** Every name a graph and its subgraphs use: values, initializers and node names. */
export function allNames(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  const visit = (g: GraphProto) => {
    viewGraph(g, names);
    for (const node of g.node) subgraphs(node).forEach(visit);
  };
  visit(graph);
  return names;
}

/** Every node of a graph and of the subgraphs its nodes hold, at any depth. */
export function* allNodes(graph: GraphProto): Generator<NodeProto> {
  for (const node of graph.node) {
    yield node;
    for (const inner of subgraphs(node)) yield* allNodes(inner);
  }
}

export function intAttr(node: NodeProto, name: string, fallback: number): number {
  const found = node.attribute.find((a) => a.name === name);
  return found ? Number(found.i) : fallback;
}

export function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const found = node.attribute.find((a) => a.name === name);
  return found ? found.ints.map(Number) : undefined;
}

export function floatAttr(node: NodeProto, name: string, fallback: number): number {
  const found = node.attribute.find((a) => a.name === name);
  return found ? found.f : fallback;
}

/** How a node is named in reports: its name, or its op and first output when it has none. */
export function nodeLabel(node: NodeProto): string {
  return node.name || `${node.opType}(${node.output[0] ?? ''})`;
}

/** Imports an operator set when the model lacks it (the rewrite added ops of that domain). */
export function importOpset(proto: ModelProto, domain: string, version: number): void {
  const same = (d: string) => (d === 'ai.onnx' ? '' : d) === (domain === 'ai.onnx' ? '' : domain);
  if (!proto.opsetImport.some((o) => same(o.domain))) proto.opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
}

/**
 * Orders nodes so that every value is produced before it is read, keeping the given order
 * wherever it is already valid (ONNX requires topological order; rewrites append helper nodes).
 */
export function sortTopologically(nodes: NodeProto[]): NodeProto[] {
  const producedBy = new Map<string, number>();
  nodes.forEach((node, i) => node.output.forEach((o) => o && producedBy.set(o, i)));
  const waitingOn = nodes.map(() => 0);
  const dependents = nodes.map((): number[] => []);
  nodes.forEach((node, i) => {
    for (const input of new Set([...node.input, ...subgraphFreeNames(node)])) {
      const from = input ? producedBy.get(input) : undefined;
      if (from === undefined || from === i) continue;
      waitingOn[i]++;
      dependents[from].push(i);
    }
  });
  // A min-heap on the original position keeps the order stable.
  const ready: number[] = [];
  const push = (i: number) => {
    ready.push(i);
    for (let c = ready.length - 1; c > 0; ) {
      const p = (c - 1) >> 1;
      if (ready[p] <= ready[c]) break;
      [ready[p], ready[c]] = [ready[c], ready[p]];
      c = p;
    }
  };
  const pop = () => {
    const top = ready[0];
    const last = ready.pop()!;
    if (ready.length > 0) {
      ready[0] = last;
      for (let p = 0; ; ) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < ready.length && ready[l] < ready[m]) m = l;
        if (r < ready.length && ready[r] < ready[m]) m = r;
        if (m === p) break;
        [ready[p], ready[m]] = [ready[m], ready[p]];
        p = m;
      }
    }
    return top;
  };
  waitingOn.forEach((n, i) => n === 0 && push(i));
  const order: NodeProto[] = [];
  while (ready.length > 0) {
    const i = pop();
    order.push(nodes[i]);
    for (const d of dependents[i]) if (--waitingOn[d] === 0) push(d);
  }
  if (order.length !== nodes.length) throw new Error('the rewritten graph has a cycle');
  return order;
}

/** Constant and Identity nodes whose values nobody reads any more (a replaced weight's alias). */
const PURE = new Set(['Constant', 'Identity']);

/**
 * Drops what no node, subgraph or graph output reads any more: dead Constant/Identity nodes,
 * then initializers. Returns the dropped initializers, whose data the caller may forget.
 */
export function dropUnused(graph: GraphProto): TensorProto[] {
  const outputs = new Set(graph.output.map((o) => o.name));
  const readers = () => {
    const used = new Set<string>(outputs);
    for (const node of graph.node) for (const name of [...node.input, ...subgraphFreeNames(node)]) used.add(name);
    return used;
  };
  for (let used = readers(), before = -1; before !== graph.node.length; used = readers()) {
    before = graph.node.length;
    graph.node = graph.node.filter((n) => !(PURE.has(n.opType) && isOnnxOp(n) && n.output.every((o) => !used.has(o))));
  }
  const used = readers();
  const dropped = graph.initializer.filter((t) => !used.has(t.name));
  const droppedNames = new Set(dropped.map((t) => t.name));
  graph.initializer = graph.initializer.filter((t) => !droppedNames.has(t.name));
  graph.input = graph.input.filter((i) => !droppedNames.has(i.name));
  return dropped;
}

/** Makes a node read `to` wherever it read `from`, in its subgraphs too (ONNX names are unique across scopes). */
export function renameInput(node: NodeProto, from: string, to: string): void {
  renameInputs(node, new Map([[from, to]]));
}

/** renameInput for many names at once: each read of a key becomes a read of its value. */
export function renameInputs(node: NodeProto, names: Map<string, string>): void {
  node.input = node.input.map((name) => names.get(name) ?? name);
  for (const graph of subgraphs(node)) for (const inner of graph.node) renameInputs(inner, names);
}
