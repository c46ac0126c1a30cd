/**
 * The bench report: what its JSON format prints and what a baseline is read back from. The schema
 * is the one definition of the format: the types are inferred from it, and a baseline file is
 * validated against it.
 */
import ort from 'onnxruntime-node';
import { createRequire } from 'node:module';
import os from 'node:os';
import { z } from 'zod';

const LatencySchema = z.object({
  mean: z.number(), std: z.number(), min: z.number(), p50: z.number(), p90: z.number(), p95: z.number(), p99: z.number(), max: z.number(),
});

const ServerFiguresSchema = z.object({
  requests: z.number(), failures: z.number(), inferences: z.number(), executions: z.number(),
  averageBatch: z.number().nullable(), requestMs: z.number().nullable(), queueMs: z.number().nullable(), computeMs: z.number().nullable(),
});

const ShapesSchema = z.record(z.string(), z.array(z.number().int().nonnegative()));

export const BenchResultSchema = z.object({
  /** the path as given */
  model: z.string(),
  /** the name results are matched on against a baseline */
  label: z.string(),
  backend: z.string(),
  provider: z.string(),
  batch: z.number().int().positive(),
  shapes: ShapesSchema,
  /** samples the statistics are computed from */
  iterations: z.number().int().positive(),
  latencyMs: LatencySchema,
  throughput: z.object({ inferencesPerSec: z.number(), samplesPerSec: z.number() }),
  /** the first model's p50 divided by this one's, at the same shapes (1 for the first model) */
  speedup: z.number(),
  /** a served model's load level (a `server` benchmark): clients in a closed loop, or arrivals per second */
  concurrency: z.number().int().positive().optional(),
  requestRate: z.number().positive().optional(),
  /** requests sent in the timed windows: answered (`iterations`) and failed (`errors`) */
  requests: z.number().int().nonnegative().optional(),
  errors: z.number().int().nonnegative().optional(),
  /** what the server's metrics say about the same windows; null when they could not be read */
  server: ServerFiguresSchema.nullable().optional(),
  /** whether three consecutive windows agreed within the stability criterion; null without one (reports before 0.2 have none) */
  stable: z.boolean().nullable().default(null),
});

export const RegressionMetricSchema = z.enum(['p50', 'p99', 'throughput']);

export const RegressionSchema = z.object({
  label: z.string(),
  shapes: ShapesSchema,
  concurrency: z.number().int().positive().optional(),
  requestRate: z.number().positive().optional(),
  metric: RegressionMetricSchema,
  baseline: z.number(),
  current: z.number(),
  /** how much worse than the baseline, in percent (latency up, throughput down) */
  worsePercent: z.number(),
  maxPercent: z.number(),
});

export const BenchReportSchema = z.object({
  tool: z.object({ name: z.literal('tdeploy'), version: z.string() }),
  environment: z.object({ node: z.string(), onnxruntime: z.string(), cpu: z.string(), cores: z.number().int(), os: z.string() }),
  results: z.array(BenchResultSchema),
  regressions: z.array(RegressionSchema),
  /** the gate's verdict: no regression beyond the baseline and, when required, every result stable; null when nothing was gated */
  passed: z.boolean().nullable().default(null),
  /** how the baseline's environment differs from this one (its CPU, onnxruntime, Node...): a comparison across them measures the machines too */
  baselineEnvironment: z.array(z.string()).default([]),
  /** generated inputs, fallbacks, unstable windows, results without a baseline (reports from before 0.2 have none) */
  notes: z.array(z.string()).default([]),
});

export type BenchResult = z.infer<typeof BenchResultSchema>;
export type Regression = z.infer<typeof RegressionSchema>;
export type RegressionMetric = z.infer<typeof RegressionMetricSchema>;
export type BenchReport = z.infer<typeof BenchReportSchema>;
export type Environment = BenchReport['environment'];

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

export const tool: BenchReport['tool'] = { name: 'tdeploy', version };

/** What differs between where a baseline was measured and here, said as `cpu: X (baseline Y)`. */
export function environmentChanges(baseline: Environment, current: Environment): string[] {
  return (Object.keys(current) as (keyof Environment)[])
    .filter((key) => String(baseline[key]) !== String(current[key]))
    .map((key) => `${key}: ${current[key]} (baseline ${baseline[key]})`);
}

/** Where the numbers were measured, so two reports can be told apart. */
export function environment(): Environment {
  return {
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}
