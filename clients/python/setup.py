"""The build step: the gRPC stubs are generated from the grid's shipped .proto files, never committed.

`build_py` copies the package as usual and then runs `protoc` (Debian: protobuf-compiler) with gRPC's Python plugin
(`grpc_python_plugin`, Debian: protobuf-compiler-grpc) into the build folder, as the subpackage `marketintel._proto`.
Debian's python3-grpc-tools (1.14) is not used: it bundles a protoc from 2018, whereas these two tools are the same
releases as Debian's python3-protobuf and python3-grpcio, which run the code they generate.
"""

import os
import shutil
import subprocess
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import ExecError

HERE = os.path.dirname(os.path.abspath(__file__))
# The contract in a checkout of the repository; MARKETINTEL_PROTO_DIR points elsewhere (a copy of the package).
DEFAULT_PROTO_DIR = os.path.join(HERE, "..", "..", "src", "MarketIntel.Api.Contracts")
STUB_PACKAGE = ("marketintel", "_proto")


def _tool(variable, default, package):
    """The path of a build tool: the environment variable's value, else the default name on PATH."""
    name = os.environ.get(variable) or default
    path = shutil.which(name)
    if path is None:
        raise ExecError(
            f"marketintel build: '{name}' not found (set {variable} to its path, or install Debian's {package}: "
            f"apt-get install {package}); it generates the gRPC stubs from the grid's .proto files")
    return path


def _proto_files():
    folder = os.path.abspath(os.environ.get("MARKETINTEL_PROTO_DIR") or DEFAULT_PROTO_DIR)
    files = sorted(f for f in os.listdir(folder) if f.endswith(".proto")) if os.path.isdir(folder) else []
    if not files:
        raise ExecError(
            f"marketintel build: no .proto files in '{folder}' (install from a checkout of the repository, or set "
            "MARKETINTEL_PROTO_DIR to the folder holding marketintel.proto)")
    return folder, files


class GenerateStubs(build_py):
    """build_py, then the stubs: *_pb2.py from protoc, *_pb2_grpc.py from gRPC's plugin."""

    def run(self):
        protoc = _tool("PROTOC", "protoc", "protobuf-compiler")
        plugin = _tool("GRPC_PYTHON_PLUGIN", "grpc_python_plugin", "protobuf-compiler-grpc")
        folder, files = _proto_files()
        super().run()
        out = self.build_lib
        with tempfile.TemporaryDirectory() as staging:
            # The .proto files sit under marketintel/_proto/ for protoc, so the generated modules import each other
            # as marketintel._proto.X rather than as top-level modules that would clash with other packages.
            target = os.path.join(staging, *STUB_PACKAGE)
            os.makedirs(target)
            for name in files:
                shutil.copy(os.path.join(folder, name), target)
            relative = ["/".join(STUB_PACKAGE + (name,)) for name in files]
            command = [protoc, f"--proto_path={staging}", f"--python_out={out}", f"--grpc_python_out={out}",
                       f"--plugin=protoc-gen-grpc_python={plugin}", *relative]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise ExecError(f"marketintel build: {protoc} failed on {folder}: {result.stderr.strip()}")
        with open(os.path.join(out, *STUB_PACKAGE, "__init__.py"), "w", encoding="utf-8") as init:
            init.write('"""gRPC stubs generated at build time from the grid\'s .proto files."""\n')


setup(cmdclass={"build_py": GenerateStubs})
