import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import type { ReleaseFinding, ReleaseFindings } from './release-check.js';
import { type TritonRelease, findRelease, newestRelease } from './releases.js';
import { opt } from '../option-ref.js';

/**
 * The tritonserver release `package` writes for: the `triton` option, else the newest in tdeploy's table. Its findings decide whether the
 * repository is written; it is recorded in <repo>/tdeploy.json with the command that serves it.
 */

export interface ReleaseTarget {
  release: TritonRelease;
  /** true when no release was asked for */
  byDefault: boolean;
  docker: string;
  /** checks that could not be made for this release */
  unchecked: ReleaseFinding[];
  /** throws the problems found as one input error (exit 2), or keeps what was not checked */
  judge(findings: ReleaseFindings[]): void;
  notes(): string[];
}

/** `docker run` for a repository, with the release's image tag. */
export function dockerCommand(repository: string, release: TritonRelease): string {
  return `docker run --gpus=all --rm -p8000:8000 -p8001:8001 -p8002:8002 -v ${repository}:/models ${release.image} tritonserver --model-repository=/models`;
}

export function releaseTarget(asked: string | undefined): ReleaseTarget {
  const release = asked ? findRelease(asked) : newestRelease();
  const target: ReleaseTarget = {
    release,
    byDefault: !asked,
    docker: '',
    unchecked: [],
    judge(findings) {
      const problems = findings.flatMap((f) => f.problems);
      target.unchecked = findings.flatMap((f) => f.unchecked);
      if (problems.length === 0) return;
      throw new InputError(problems.map((p) => p.message).join('; '), {
        kind: 'triton-release',
        hint: [...new Set(problems.flatMap((p) => (p.fix ? [p.fix] : [])))].join('; '),
      });
    },
    notes() {
      const which = target.byDefault ? ` (the newest in tdeploy's release table; ${opt('triton', 'YY.MM')} for another)` : '';
      return [
        `checked against tritonserver ${release.release}${which}`,
        ...target.unchecked.map((u) => `not checked for ${release.release}: ${u.message}`),
      ];
    },
  };
  return target;
}

interface TargetFile {
  triton: { release: string; image: string; docker: string };
  /** per model: the release it was checked against */
  models: Record<string, { triton: string; notChecked: string[] }>;
}

/**
 * Records the release in <repo>/tdeploy.json (Triton reads only the folders of a repository),
 * keeping the entries of models packaged before.
 */
export async function writeTargetFile(repository: string, target: ReleaseTarget, models: string[]): Promise<void> {
  const file = path.join(repository, 'tdeploy.json');
  let existing: TargetFile['models'] = {};
  try {
    existing = (JSON.parse(await fs.promises.readFile(file, 'utf8')) as TargetFile).models ?? {};
  } catch {
    existing = {};
  }
  target.docker = dockerCommand(repository, target.release);
  const doc: TargetFile = {
    triton: { release: target.release.release, image: target.release.image, docker: target.docker },
    models: { ...existing, ...Object.fromEntries(models.map((m) => [m, { triton: target.release.release, notChecked: target.unchecked.map((u) => u.message) }])) },
  };
  const outputs = new OutputSet();
  await outputs.run(async (set) => fs.promises.writeFile(await set.temp(file), `${JSON.stringify(doc, null, 2)}\n`));
}

/** What the reports show of the target: plain data. */
export interface TargetSummary {
  release: string;
  byDefault: boolean;
  image: string;
  docker: string;
  onnxruntime: string | null;
  tensorrt: string | null;
  python: string | null;
  notChecked: ReleaseFinding[];
}

export function targetSummary(target: ReleaseTarget): TargetSummary {
  const r = target.release;
  return {
    release: r.release,
    byDefault: target.byDefault,
    image: r.image,
    docker: target.docker,
    onnxruntime: r.onnxruntime.value,
    tensorrt: r.tensorrt.value,
    python: r.python.value,
    notChecked: target.unchecked,
  };
}
