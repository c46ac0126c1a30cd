/**
 * Side-by-side timing: one run of each model in turn, the order rotated every round, so that load
 * from other processes (on a shared machine it comes and goes within seconds) falls on every model
 * alike. What quantize's speed step and the benchmarks that compare models measure with.
 */
export interface InterleavedPlan {
  /** untimed runs of each model first */
  warmup: number;
  rounds: number;
  /** with `budgetMs`: keep going past `rounds` until the budget is spent, up to `maxRounds` */
  budgetMs?: number;
  maxRounds?: number;
}

export interface InterleavedSamples {
  /** per model, the wall milliseconds of each timed run */
  wall: number[][];
  /** per model, the process's CPU milliseconds (user + system) of each timed run */
  cpu: number[][];
}

export async function interleaved(runs: (() => Promise<unknown>)[], plan: InterleavedPlan): Promise<InterleavedSamples> {
  for (const run of runs) for (let i = 0; i < plan.warmup; i++) await run();
  const wall = runs.map((): number[] => []);
  const cpu = runs.map((): number[] => []);
  const start = performance.now();
  const more = (round: number) => round < plan.rounds || (round < (plan.maxRounds ?? plan.rounds) && performance.now() - start < (plan.budgetMs ?? 0));
  for (let round = 0; more(round); round++) {
    for (let k = 0; k < runs.length; k++) {
      const m = (k + round) % runs.length;
      const [began, usage] = [performance.now(), process.cpuUsage()];
      await runs[m]();
      const used = process.cpuUsage(usage);
      wall[m].push(performance.now() - began);
      cpu[m].push((used.user + used.system) / 1000);
    }
  }
  return { wall, cpu };
}
