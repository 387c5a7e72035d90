"""Regenerate bsstream/_gen from protos/api.proto (the one way generated code is made).

Usage: python scripts/gen_proto.py [OUT_DIR]

OUT_DIR defaults to bsstream/_gen. tests/test_generated.py regenerates into a temporary
directory and fails if the committed files differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
GENERATED = ("api_pb2.py", "api_pb2_grpc.py", "api_pb2.pyi")


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) and make the grpc module import its sibling relatively."""
    from grpc_tools import protoc  # dev dependency only

    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"--proto_path={PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO_DIR / "api.proto"),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    grpc_module = out_dir / "api_pb2_grpc.py"
    text = grpc_module.read_text()
    text = text.replace("import api_pb2 as api__pb2", "from . import api_pb2 as api__pb2")
    grpc_module.write_text(text)
    return [out_dir / name for name in GENERATED]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bsstream" / "_gen"
    for path in generate(target):
        print(path)
