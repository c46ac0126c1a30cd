"""Runs the tritonserver binary that PyTriton (nvidia-pytriton) ships, on a model repository of your own.

    python serve.py <workspace dir> <tritonserver args...>     (the pytriton venv's python)

PyTriton's wheel holds tritonserver with the Python backend only (no onnxruntime, TensorRT or other backends)
and one Python-backend stub per Python version. This does what PyTriton's own start-up does: copies the server
into <workspace>, puts the stub of this interpreter's Python beside the backend, and starts the server with the
wheel's libraries on LD_LIBRARY_PATH and this venv first on PATH (the stub's embedded Python finds the venv's
packages, numpy and tokenizers, through it). The server replaces this process, so its pid is this one's.
"""
import os
import shutil
import sys
from pathlib import Path

import pytriton

root = Path(pytriton.__file__).parent / "tritonserver"
workspace = Path(sys.argv[1])
server = workspace / "tritonserver"
if not server.exists():
    shutil.copytree(root, server, ignore=shutil.ignore_patterns("python_backend_stubs"))
    stub = root / "python_backend_stubs" / f"{sys.version_info[0]}.{sys.version_info[1]}" / "triton_python_backend_stub"
    shutil.copy(stub, server / "backends" / "python" / "triton_python_backend_stub")

env = dict(os.environ)
libs = Path(pytriton.__file__).parent.parent / "nvidia_pytriton.libs"
env["LD_LIBRARY_PATH"] = ":".join(filter(None, [env.get("LD_LIBRARY_PATH"), str(libs)]))
env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
binary = str(server / "bin" / "tritonserver")
os.execve(binary, [binary, f"--backend-directory={server / 'backends'}", f"--cache-directory={server / 'caches'}", *sys.argv[2:]], env)
