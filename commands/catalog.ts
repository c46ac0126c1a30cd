/**
 * Each command's argument syntax and one-line summary, in the order `tdeploy --help` lists them.
 * The top-level help is built from this table alone, so it loads no command module (each pulls in
 * onnxruntime, protobuf and the libraries behind it: about a second of start-up).
 */
export const CATALOG = {
  inspect: { args: '<model>', summary: 'show what an ONNX model is: I/O, opsets, ops, parameters, external data' },
  convert: { args: '<source>', summary: 'convert a PyTorch model to ONNX with your Python + torch, with reference data' },
  quantize: { args: '<model>', summary: 'convert a model to FP16 or INT8 (dynamic, or static QDQ calibrated on data) and judge its drift against the original' },
  engine: { args: '[model]', summary: 'build a TensorRT engine with trtexec (TensorRT 8.x, 10.x, 11.x), or report on a trtexec log' },
  check: { args: '<model>', summary: 'run a model with onnxruntime and compare its outputs with a reference or another model; exit 1 on drift' },
  bench: { args: '[models...]', summary: 'latency and throughput of one or more models side by side, or of a served model under load, with a regression gate for CI' },
  tune: { args: '', summary: 'find the Triton serving config that meets a p95 budget at the highest throughput, and write it into the repository' },
  package: { args: '<model>', summary: 'write a Triton model repository for a model (config from the model itself), or check one with --verify' },
  run: { args: '', summary: 'the whole pipeline from one config file: convert, quantize, check, engine, bench, package' },
  schema: { args: '', summary: 'print the JSON Schema of tdeploy.config.json (for editors)' },
  doctor: { args: '', summary: "what this machine offers tdeploy (Node, onnxruntime and its execution providers, CPU features, Python + torch, trtexec), and whether a config's needs are met" },
} as const;

export type CommandName = keyof typeof CATALOG;
