"""Generated protobuf and gRPC code. Never edit by hand: run scripts/gen_proto.py."""
