import fs from 'node:fs';
import path from 'node:path';
import { InputError, fileError } from '../errors.js';
import type { ExportRequest } from './export.js';

/** `package.module:factory`: a Python callable that returns the model, rather than a file. */
const FACTORY = /^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$/;
const SOURCES_HINT = 'give a TorchScript archive (.pt/.pth from torch.jit.save), a torch.export archive (.pt2), or package.module:factory';

/** Whether `source` names a factory: it has the form, and no file of that name exists (relative to `dir`). */
export function isFactory(source: string, dir = '.'): boolean {
  return FACTORY.test(source) && !fs.existsSync(path.resolve(dir, source));
}

/** A factory as given, or a readable model file as an absolute path. */
export function resolveSource(source: string): ExportRequest['source'] {
  if (isFactory(source)) return { factory: source };
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
    fs.accessSync(source, fs.constants.R_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(source, error, 'source');
    throw new InputError(`source not found: ${source}`, { kind: 'file', hint: SOURCES_HINT });
  }
  if (stat.isDirectory()) throw new InputError(`source is a directory, not a model file: ${source}`, { kind: 'file', hint: SOURCES_HINT });
  return { path: path.resolve(source) };
}
