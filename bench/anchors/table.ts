/** The anchors' figures as data, the tdeploy-vs-onnxruntime verdicts, and their Markdown. */

/** An entry of models.py's MODELS. */
export interface AnchorModel {
  factory: string;
  inputs: string[];
  outputs: string[];
  ortType: string;
  heads: number;
  hidden: number;
}

export interface Measured {
  label: string;
  tool: 'tdeploy' | 'onnxruntime';
  sizeMiB: number;
  /** the lowest cosine similarity to the fp32 model over the outputs, on held-out inputs */
  cosine: number;
  p50Ms: number;
  /** fp32 p50 / this p50, median over rounds */
  speedup: number;
  /** time the tool took to make the variant */
  seconds?: number;
}

export interface ModelRun {
  name: string;
  onnxruntime: string;
  measured: Measured[];
  failed: Record<string, string>;
  notes: string[];
}

/**
 * What "match" means: the same speed within 5 % (the spread of p50 between rounds on a shared machine),
 * and a cosine no more than 5e-4 lower.
 */
export const TOLERANCE = { speed: 0.05, cosine: 5e-4 };

/** Each tdeploy variant and the onnxruntime recipes that do the same job. */
const PAIRS: [string, string][] = [
  ['tdeploy-fp16', 'ort-opt-fp16'],
  ['tdeploy-int8', 'ort-dynamic'],
  ['tdeploy-int8', 'ort-opt-dynamic'],
  ['tdeploy-int8-static', 'ort-static'],
];

export interface Verdict {
  model: string;
  tdeploy: string;
  onnxruntime: string;
  /** tdeploy's speed over onnxruntime's (p50 of onnxruntime's model / p50 of tdeploy's) */
  speedRatio: number;
  cosineTdeploy: number;
  cosineOnnxruntime: number;
  faster: boolean;
  asAccurate: boolean;
  passed: boolean;
}

export function verdicts(run: ModelRun): Verdict[] {
  const byLabel = new Map(run.measured.map((m) => [m.label, m]));
  return PAIRS.filter(([t, o]) => byLabel.has(t) && byLabel.has(o)).map(([t, o]) => {
    const ours = byLabel.get(t)!;
    const theirs = byLabel.get(o)!;
    const speedRatio = theirs.p50Ms / ours.p50Ms;
    const faster = speedRatio >= 1 - TOLERANCE.speed;
    const asAccurate = ours.cosine >= theirs.cosine - TOLERANCE.cosine;
    return { model: run.name, tdeploy: t, onnxruntime: o, speedRatio, cosineTdeploy: ours.cosine, cosineOnnxruntime: theirs.cosine, faster, asAccurate, passed: faster && asAccurate };
  });
}

/** `text` columns first, numbers after them (right-aligned). */
function markdownTable(header: string[], text: number, rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i < text ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

const fixed = (digits: number) => (value: number) => value.toFixed(digits);
const cos = (value: number) => (value >= 0.99995 ? value.toFixed(6) : value.toFixed(4));

function verdictText(v: Verdict): string {
  if (v.passed) return 'matches or beats';
  const why = [];
  if (!v.faster) why.push('slower');
  if (!v.asAccurate) why.push('less accurate');
  return `**${why.join(', ')}**`;
}

export interface AnchorsDocument {
  environment: { date: string; cpu: string; cores: number; torch: string; transformers: string; onnxruntimePython?: string; seq: number; rounds: number; iterations: number; loadAverage: number[] };
  runs: ModelRun[];
  verdicts: Verdict[];
}

export function markdown(doc: AnchorsDocument): string {
  const e = doc.environment;
  const lines = [
    `Measured ${e.date} by \`npm run bench:anchors\` on ${e.cpu} (${e.cores} cores, load average ${e.loadAverage.map(fixed(1)).join(' → ')}), ` +
      `torch ${e.torch}, transformers ${e.transformers}, onnxruntime ${e.onnxruntimePython} (its quantizers and optimizer); every model timed by ` +
      `\`tdeploy bench\` (onnxruntime-node) at batch 1, ${doc.runs.some((r) => r.name !== 'vit') ? `seq ${e.seq}, ` : ''}p50 the median of ${e.rounds} rounds × ${e.iterations} runs. ` +
      'Cosine: the lowest over the outputs against fp32 on 4 held-out inputs (2 padded).',
    '',
    markdownTable(['model', 'variant', 'tool', 'MiB', 'min cosine', 'p50 ms', 'speed-up'], 3,
      doc.runs.flatMap((run) => run.measured.map((m) => [run.name, m.label, m.tool, fixed(1)(m.sizeMiB), cos(m.cosine), fixed(2)(m.p50Ms), `${fixed(2)(m.speedup)}×`]))),
    '',
    markdownTable(['model', 'tdeploy', 'onnxruntime', 'tdeploy speed / onnxruntime', 'cosine tdeploy / onnxruntime', 'verdict'], 3,
      doc.verdicts.map((v) => [v.model, v.tdeploy, v.onnxruntime, `${fixed(2)(v.speedRatio)}×`, `${cos(v.cosineTdeploy)} / ${cos(v.cosineOnnxruntime)}`, verdictText(v)])),
  ];
  const failures = doc.runs.flatMap((run) => Object.entries(run.failed).map(([label, message]) => `- ${run.name} ${label}: ${message}`));
  if (failures.length) lines.push('', 'Recipes that failed:', '', ...failures);
  return `${lines.join('\n')}\n`;
}
