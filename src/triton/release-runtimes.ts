import path from 'node:path';
import { isExecutable } from '../process/executable.js';
import { runTool } from '../process/runner.js';
import { readTrtexecLog } from '../trt/log-parser.js';
import { formatVersion } from '../trt/version.js';
import type { ReleaseFindings } from './release-check.js';
import type { TritonRelease } from './releases.js';
import { opt } from '../option-ref.js';

/**
 * The parts of a release that are not onnxruntime: the TensorRT version a plan must have been
 * built with, and the Python whose grammar a Python-backend model.py must parse with.
 */

/** TensorRT loads only plans its own version built; the build log says which version built this one. */
export async function checkEngineForRelease(log: string | undefined, release: TritonRelease, file: string): Promise<ReleaseFindings> {
  const out: ReleaseFindings = { problems: [], unchecked: [] };
  const wanted = release.tensorrt.value;
  if (!wanted) {
    out.unchecked.push({ file, field: 'tensorrt', message: `the TensorRT version of tritonserver ${release.release} was not found` });
    return out;
  }
  if (!log) {
    out.unchecked.push({ file, field: 'tensorrt', message: `no trtexec log for ${file} tells which TensorRT built it (tdeploy engine keeps <engine>.log; or give ${opt('ioFrom', '<log>')})` });
    return out;
  }
  const built = (await readTrtexecLog(log, 'engine log')).version;
  if (!built) {
    out.unchecked.push({ file, field: 'tensorrt', message: `${log} does not state its TensorRT version (trtexec 7.x prints none)` });
    return out;
  }
  const [major, minor, patch, build] = wanted.split('.').map(Number);
  const same = built.major === major && built.minor === minor && built.patch === patch && (build === undefined || built.build === undefined || built.build === build);
  if (same) return out;
  out.problems.push({
    file,
    field: 'tensorrt',
    message: `${file} was built by TensorRT ${formatVersion(built)}${built.build ? ` (b${built.build})` : ''}; tritonserver ${release.release} runs TensorRT ${wanted}, which loads only plans it built`,
    fix: `build the engine again with TensorRT ${wanted} (the nvcr.io/nvidia/tensorrt:${release.release}-py3 container has its trtexec), or serve the ONNX model`,
  });
  return out;
}

/** Compiles a file and says which Python did it: "OK 3.10", or "SYNTAX 3.8 <line> <message>". */
const PARSE = [
  'import sys',
  'v = "%d.%d" % sys.version_info[:2]',
  'try:',
  '    compile(open(sys.argv[1], "rb").read(), sys.argv[1], "exec")',
  '    print("OK", v)',
  'except SyntaxError as e:',
  '    print("SYNTAX", v, e.lineno, e.msg)',
].join('\n');

function findPython(version: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, `python${version}`);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

/**
 * Parses model.py with the release's own Python version, found on PATH as python3.X. Without
 * that interpreter nothing is claimed: ast's feature_version only approximates older grammars.
 */
export async function checkPythonForRelease(modelPy: string, release: TritonRelease, file: string): Promise<ReleaseFindings> {
  const out: ReleaseFindings = { problems: [], unchecked: [] };
  const version = release.python.value;
  if (!version) {
    out.unchecked.push({ file, field: 'python', message: `the Python version of tritonserver ${release.release} was not found: ${file} not parsed` });
    return out;
  }
  const python = findPython(version);
  if (!python) {
    out.unchecked.push({ file, field: 'python', message: `no python${version} on PATH to parse ${file} with tritonserver ${release.release}'s Python ${version}` });
    return out;
  }
  const result = await runTool({ file: python, args: ['-c', PARSE, modelPy], label: `python${version}`, timeoutMs: 60_000 });
  const answer = /^(OK|SYNTAX) (\d+\.\d+)(?: (\d+) (.*))?$/m.exec(result.stdout);
  // A shim that cannot run the version (pyenv's, when it is not selected) answers nothing of the kind.
  if (!answer || answer[2] !== version) {
    const said = `${result.stdout}${result.stderr}`.trim().split('\n').filter(Boolean)[0] ?? `exit ${result.exitCode}`;
    out.unchecked.push({ file, field: 'python', message: `${python} is not a working Python ${version} (${said}): ${file} not parsed` });
    return out;
  }
  if (answer[1] === 'OK') return out;
  out.problems.push({
    file,
    field: 'python',
    message: `${file} does not parse with Python ${version} (tritonserver ${release.release}): line ${answer[3]}: ${answer[4]}`,
    fix: `write it for Python ${version}, or use a release with a newer Python`,
  });
  return out;
}
