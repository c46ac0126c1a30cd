/** The anchors' figures as data, the tdeploy-vs-onnxruntime verdicts, and their Markdown. */
import { median } from '../../src/bench/stats.js';

/** An entry of models.py's MODELS: a transformers architecture that `tdeploy convert models:<factory>` exports. */
export interface HfModel {
  factory: string;
  /** `name:dtype:dims`; dims `batch` and `seq` are set by the harness, the others are numbers */
  inputs: string[];
  outputs: string[];
  /** onnxruntime's transformers optimizer's model type, and the heads and hidden size its fusions need */
  ortType: string;
  heads: number;
  hidden: number;
}

/** An entry of corpus.ts: an ONNX file that needs no convert, and that the transformers optimizer does not know. */
export interface CorpusModel {
  file: string;
  inputs: string[];
}

export type AnchorModel = HfModel | CorpusModel;

export interface Measured {
  label: string;
  tool: 'tdeploy' | 'onnxruntime';
  sizeMiB: number;
  /** the lowest cosine similarity to the fp32 model over the outputs, on held-out inputs */
  cosine: number;
  /** this variant's p50 (ms) in each round's `tdeploy bench`, in round order */
  p50Rounds: number[];
  /** the file's op histogram (`tdeploy inspect`): which nodes each tool quantized or fused */
  ops: Record<string, number>;
  /** time the tool took to make the variant */
  seconds?: number;
}

export interface ModelRun {
  name: string;
  /** what one timed inference is fed, e.g. "seq 128" or "3×224×224" */
  input: string;
  date: string;
  rounds: number;
  iterations: number;
  /** `tdeploy bench --threads`; absent: onnxruntime's default */
  threads?: number;
  /** os.loadavg() (1, 5, 15 min) when the model's run started and ended */
  loadAverage: { start: number[]; end: number[] };
  onnxruntime: string;
  measured: Measured[];
  failed: Record<string, string>;
  notes: string[];
}

/** A measured variant with the figures the table shows, all from `p50Rounds`. */
export interface Row extends Measured {
  /** the median of the rounds' p50s */
  p50Ms: number;
  /** fp32's p50Ms over this variant's p50Ms: exactly the ratio of the two p50 cells */
  speedup: number;
  /** the lowest and the highest of the rounds' own fp32/variant p50 ratios: how far one round's figure strays */
  roundSpeedups: [number, number];
}

/**
 * What "match" means: the same speed within 5 % (the spread of p50 between rounds on a shared machine),
 * and a cosine no more than 5e-4 lower.
 */
export const TOLERANCE = { speed: 0.05, cosine: 5e-4 };

/** quantize's default drift gates (lowest cosine): a variant below its gate is not one tdeploy would hand out. */
export const GATES = { fp16: 0.999, int8: 0.99 };
const gateOf = (label: string) => (label.includes('fp16') ? GATES.fp16 : GATES.int8);

/** Each tdeploy variant and the onnxruntime recipes that do the same job. */
const PAIRS: [string, string][] = [
  ['tdeploy-fp16', 'ort-opt-fp16'],
  ['tdeploy-int8', 'ort-dynamic'],
  ['tdeploy-int8', 'ort-opt-dynamic'],
  ['tdeploy-int8-static', 'ort-static'],
];

/** `base`'s p50 over `other`'s: the median-of-rounds ratio and the range of the per-round ratios. */
function ratios(base: Measured, other: Measured): { ratio: number; range: [number, number] } {
  const perRound = base.p50Rounds.map((p50, round) => p50 / other.p50Rounds[round]);
  return { ratio: median(base.p50Rounds) / median(other.p50Rounds), range: [Math.min(...perRound), Math.max(...perRound)] };
}

export function rows(run: ModelRun): Row[] {
  const fp32 = run.measured.find((m) => m.label === 'fp32');
  if (!fp32) throw new Error(`${run.name}: no fp32 measurement to compare with`);
  return run.measured.map((m) => {
    const { ratio, range } = ratios(fp32, m);
    return { ...m, p50Ms: median(m.p50Rounds), speedup: ratio, roundSpeedups: range };
  });
}

export interface Verdict {
  model: string;
  tdeploy: string;
  onnxruntime: string;
  /** tdeploy's speed over onnxruntime's: onnxruntime's p50Ms over tdeploy's (the same statistic as the speed-up column) */
  speedRatio: number;
  /** the lowest and highest of the rounds' own onnxruntime/tdeploy p50 ratios */
  roundRatios: [number, number];
  cosineTdeploy: number;
  cosineOnnxruntime: number;
  /** the default gate of the pair's precision (GATES) */
  gate: number;
  faster: boolean;
  asAccurate: boolean;
  passed: boolean;
}

export function verdicts(run: ModelRun): Verdict[] {
  const byLabel = new Map(run.measured.map((m) => [m.label, m]));
  return PAIRS.filter(([t, o]) => byLabel.has(t) && byLabel.has(o)).map(([t, o]) => {
    const ours = byLabel.get(t)!;
    const theirs = byLabel.get(o)!;
    const { ratio, range } = ratios(theirs, ours);
    const faster = ratio >= 1 - TOLERANCE.speed;
    const asAccurate = ours.cosine >= theirs.cosine - TOLERANCE.cosine;
    return {
      model: run.name, tdeploy: t, onnxruntime: o, speedRatio: ratio, roundRatios: range,
      cosineTdeploy: ours.cosine, cosineOnnxruntime: theirs.cosine, gate: gateOf(t), faster, asAccurate, passed: faster && asAccurate,
    };
  });
}

/**
 * The op types that tell the variants apart: the counts that differ from the fp32 model's, as
 * `MatMul 72→24, +MatMulInteger 48` (types the variant added carry a +, those it removed end at 0).
 */
export function opChanges(fp32: Record<string, number>, variant: Record<string, number>): string {
  const types = [...new Set([...Object.keys(fp32), ...Object.keys(variant)])].filter((t) => (fp32[t] ?? 0) !== (variant[t] ?? 0));
  types.sort((a, b) => Math.abs((variant[b] ?? 0) - (fp32[b] ?? 0)) - Math.abs((variant[a] ?? 0) - (fp32[a] ?? 0)) || a.localeCompare(b));
  return types.map((t) => (fp32[t] ? `${t} ${fp32[t]}→${variant[t] ?? 0}` : `+${t} ${variant[t]}`)).join(', ');
}

/** `text` columns first, numbers after them (right-aligned). */
function markdownTable(header: string[], text: number, body: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i < text ? '---' : '---:'))), ...body.map(line)].join('\n');
}

const fixed = (digits: number) => (value: number) => value.toFixed(digits);
const cos = (value: number) => (value >= 0.99995 ? value.toFixed(6) : value.toFixed(4));
const times = (value: number) => `${fixed(2)(value)}×`;
/** A failure's first 240 characters: its reason, without the whole list of nodes some of them go on with. */
const clip = (message: string) => (message.length > 240 ? `${message.slice(0, 240)}…` : message);
const span = ([lo, hi]: [number, number]) => `${fixed(2)(lo)}–${fixed(2)(hi)}`;

function verdictText(v: Verdict): string {
  const why = [];
  if (!v.faster) why.push('slower');
  if (!v.asAccurate) why.push('less accurate');
  const verdict = v.passed ? 'matches or beats' : `**${why.join(', ')}**`;
  const missing = [v.cosineTdeploy < v.gate && 'tdeploy\'s', v.cosineOnnxruntime < v.gate && 'onnxruntime\'s'].filter(Boolean);
  if (missing.length === 0) return verdict;
  return `${verdict}; ${missing.length === 2 ? 'both miss' : `${missing[0]} misses`} the ${v.gate} gate`;
}

export interface AnchorsDocument {
  environment: { cpu: string; cores: number; torch: string; transformers: string; onnxruntimePython?: string };
  runs: ModelRun[];
  verdicts: Verdict[];
}

export function markdown(doc: AnchorsDocument): string {
  const e = doc.environment;
  const load = (values: number[]) => values.map(fixed(2)).join(' ');
  const lines = [
    `Measured by \`npm run bench:anchors\` on ${e.cpu} (${e.cores} cores, shared), torch ${e.torch}, transformers ${e.transformers}, ` +
      `onnxruntime ${e.onnxruntimePython} (its quantizers and optimizer); every model timed by \`tdeploy bench\` (onnxruntime-node) at batch 1, ` +
      'one `tdeploy bench` of all of a model\'s variants per round, their order rotated each round. ' +
      '**p50 ms** is the median of the rounds\' p50s; **speed-up** is fp32\'s p50 over the variant\'s, the ratio of those two cells; ' +
      '**per round** is the lowest and highest of the rounds\' own fp32/variant ratios (how far one round strays). ' +
      'The verdicts\' speed is the same statistic: onnxruntime\'s p50 over tdeploy\'s. ' +
      'Cosine: the lowest over the outputs against fp32 on 4 held-out inputs (text: 2 of them padded).',
    '',
    markdownTable(['model', 'input', 'measured', 'rounds × runs', 'threads', 'load average (1, 5, 15 min) start → end'], 4,
      doc.runs.map((r) => [r.name, r.input, r.date, `${r.rounds} × ${r.iterations}`, r.threads === undefined ? 'default' : String(r.threads), `${load(r.loadAverage.start)} → ${load(r.loadAverage.end)}`])),
    '',
    markdownTable(['model', 'variant', 'tool', 'MiB', 'min cosine', 'p50 ms', 'speed-up', 'per round'], 3,
      doc.runs.flatMap((run) => rows(run).map((m) => [run.name, m.label, m.tool, fixed(1)(m.sizeMiB), cos(m.cosine), fixed(2)(m.p50Ms), times(m.speedup), span(m.roundSpeedups)]))),
    '',
    markdownTable(['model', 'tdeploy', 'onnxruntime', 'tdeploy speed / onnxruntime', 'per round', 'cosine tdeploy / onnxruntime', 'verdict'], 3,
      doc.verdicts.map((v) => [v.model, v.tdeploy, v.onnxruntime, times(v.speedRatio), span(v.roundRatios), `${cos(v.cosineTdeploy)} / ${cos(v.cosineOnnxruntime)}`, verdictText(v)])),
    '',
    '<details><summary>What each variant\'s file holds: op counts that differ from the fp32 model (<code>tdeploy inspect</code>)</summary>',
    '',
    ...doc.runs.flatMap((run) => {
      const fp32 = run.measured.find((m) => m.label === 'fp32')!;
      return run.measured.filter((m) => m !== fp32).map((m) => `- ${run.name} ${m.label}: ${opChanges(fp32.ops, m.ops) || 'the same op counts'}`);
    }),
    '',
    '</details>',
  ];
  const failures = doc.runs.flatMap((run) => Object.entries(run.failed).map(([label, message]) => `- ${run.name} ${label}: ${clip(message)}`));
  if (failures.length) lines.push('', 'Recipes that failed:', '', ...failures);
  const notes = doc.runs.flatMap((run) => run.notes.map((note) => `- ${run.name}: ${note}`));
  if (notes.length) lines.push('', 'Notes:', '', ...notes);
  return `${lines.join('\n')}\n`;
}
