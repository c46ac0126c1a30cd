import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { opt } from '../option-ref.js';

/**
 * The tritonserver release table (data/triton/releases.json) joined with what each onnxruntime
 * version loads (data/triton/onnxruntime/*.json, measured by scripts/triton/ort-facts.sh or taken
 * from onnxruntime's compatibility table). Every figure carries its sources; a figure that was not
 * found is null, and checks that need it say they were not made.
 */

const DATA = fileURLToPath(new URL('../../../data/triton/', import.meta.url));

const figure = z.object({
  value: z.string().nullable(),
  sources: z.array(z.string()).default([]),
  note: z.string().optional(),
  /** the container ships no backend of this kind at all */
  absent: z.boolean().optional(),
});

const ReleaseTable = z.object({
  sources: z.record(z.string(), z.string()),
  releases: z.array(z.object({
    release: z.string().regex(/^\d\d\.\d\d$/),
    onnxruntime: figure,
    tensorrt: figure,
    python: figure,
    /** a limit seen in the field where the onnxruntime version itself was not found */
    observed: z.object({ maxIrVersion: z.number().int(), sources: z.array(z.string()) }).optional(),
  })),
});

const OrtFacts = z.object({
  onnxruntime: z.string(),
  maxIrVersion: z.number().int().nullable(),
  maxOpset: z.record(z.string(), z.number().int().nullable()),
  /** null: the contrib op list of this version was not found */
  contribOps: z.array(z.string()).nullable(),
  source: z.string(),
});

export type Figure = z.infer<typeof figure>;
export type OrtFacts = z.infer<typeof OrtFacts>;

export interface TritonRelease {
  release: string;
  onnxruntime: Figure;
  tensorrt: Figure;
  python: Figure;
  /** what the release's onnxruntime loads; undefined when its version or facts were not found */
  ort?: OrtFacts;
  /** the highest IR version it loads: from `ort`, else as observed in the field */
  maxIrVersion?: { value: number; sources: string[] };
  /** the NGC image */
  image: string;
}

interface Table {
  sources: Record<string, string>;
  releases: TritonRelease[];
}

let table: Table | undefined;

function load(): Table {
  if (table) return table;
  const raw = ReleaseTable.parse(JSON.parse(fs.readFileSync(path.join(DATA, 'releases.json'), 'utf8')));
  const facts = new Map<string, OrtFacts>();
  const dir = path.join(DATA, 'onnxruntime');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const parsed = z.array(OrtFacts).or(OrtFacts).parse(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    for (const f of Array.isArray(parsed) ? parsed : [parsed]) facts.set(f.onnxruntime, f);
  }
  const releases = raw.releases.map((r): TritonRelease => {
    // A local build suffix (25.08's "1.23.0+1d1712fdaf") is the release it was cut from.
    const ort = r.onnxruntime.value ? facts.get(r.onnxruntime.value.split('+')[0]) : undefined;
    const maxIrVersion = ort?.maxIrVersion != null
      ? { value: ort.maxIrVersion, sources: [ort.source] }
      : r.observed ? { value: r.observed.maxIrVersion, sources: r.observed.sources.map((s) => raw.sources[s] ?? s) } : undefined;
    return {
      release: r.release,
      onnxruntime: r.onnxruntime,
      tensorrt: r.tensorrt,
      python: r.python,
      ort,
      maxIrVersion,
      image: `nvcr.io/nvidia/tritonserver:${r.release}-py3`,
    };
  });
  table = { sources: raw.sources, releases };
  return table;
}

export function tritonReleases(): TritonRelease[] {
  return load().releases;
}

/** The text of a source key of the table (its figures cite keys). */
export function sourceText(key: string): string {
  return load().sources[key] ?? key;
}

export function newestRelease(): TritonRelease {
  const all = tritonReleases();
  return all[all.length - 1];
}

export function findRelease(name: string): TritonRelease {
  const wanted = name.trim().replace(/-py3$/, '');
  const found = tritonReleases().find((r) => r.release === wanted);
  if (found) return found;
  const all = tritonReleases();
  throw new InputError(`${opt('triton', name)}: not a tritonserver release tdeploy knows`, {
    hint: `releases ${all[0].release} to ${all[all.length - 1].release}, as YY.MM (e.g. ${newestRelease().release})`,
  });
}
