import path from 'node:path';
import { ToolError } from '../errors.js';
import { isExecutable } from '../process/executable.js';
import { opt } from '../option-ref.js';

export interface TrtexecLocation {
  path: string;
  /** where it was found */
  source: 'option' | 'TDEPLOY_TRTEXEC' | 'PATH' | 'default';
}

export interface LocateOptions {
  /** an explicit path */
  trtexec?: string;
  /** defaults to process.env */
  env?: Record<string, string | undefined>;
}

/** Where TensorRT's packages and containers install trtexec. */
export const DEFAULT_TRTEXEC = '/usr/src/tensorrt/bin/trtexec';

/** Where findTrtexec looks, in order, as its callers' help says it. */
export const TRTEXEC_SEARCH = `$TDEPLOY_TRTEXEC, then PATH, then ${DEFAULT_TRTEXEC}`;

const HOW_TO_POINT = `point tdeploy at it with ${opt('trtexec', 'PATH')} or TDEPLOY_TRTEXEC=PATH (trtexec ships in TensorRT's bin/ folder and in the nvcr.io/nvidia/tensorrt containers), ` +
  `or build on a GPU machine and read its log here with tdeploy engine ${opt('fromLog', '<log>')}`;

/**
 * Finds trtexec: the explicit path, then $TDEPLOY_TRTEXEC, then each folder on $PATH, then
 * /usr/src/tensorrt/bin. An explicit path that is not an executable file is an error rather
 * than a reason to look elsewhere.
 */
export function findTrtexec(options: LocateOptions = {}): TrtexecLocation {
  const env = options.env ?? process.env;
  const explicit: [TrtexecLocation['source'], string | undefined][] = [['option', options.trtexec], ['TDEPLOY_TRTEXEC', env.TDEPLOY_TRTEXEC]];
  for (const [source, file] of explicit) {
    if (!file) continue;
    if (isExecutable(file)) return { path: path.resolve(file), source };
    throw new ToolError(`trtexec not found: ${file} (from ${source === 'option' ? opt('trtexec') : source}) is not an executable file`, { kind: 'tool-missing', hint: HOW_TO_POINT });
  }
  const folders = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const folder of folders) {
    const file = path.join(folder, 'trtexec');
    if (isExecutable(file)) return { path: path.resolve(file), source: 'PATH' };
  }
  if (isExecutable(DEFAULT_TRTEXEC)) return { path: DEFAULT_TRTEXEC, source: 'default' };
  const looked = [
    `${opt('trtexec')} (not given)`,
    'TDEPLOY_TRTEXEC (not set)',
    `PATH (${folders.length ? folders.join(path.delimiter) : 'empty'})`,
    DEFAULT_TRTEXEC,
  ];
  throw new ToolError(`trtexec not found; looked in ${looked.join(', ')}`, { kind: 'tool-missing', hint: HOW_TO_POINT });
}
