"""The committed generated code matches a fresh generation from protos/api.proto."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_has_not_drifted(tmp_path):
    pytest.importorskip("grpc_tools")
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    fresh = gen.generate(tmp_path)
    for path in fresh:
        committed = ROOT / "bsstream" / "_gen" / path.name
        assert committed.read_text() == path.read_text(), (
            f"{committed} drifted from protos/api.proto: run python scripts/gen_proto.py"
        )


def test_wire_names_match_the_contract():
    from bsstream._gen import api_pb2

    service = api_pb2.DESCRIPTOR.services_by_name["BehavioralStreamingApi"]
    assert api_pb2.DESCRIPTOR.package == "behavioral_api.grpc.v1"
    assert [m.full_name for m in service.methods] == [
        "behavioral_api.grpc.v1.BehavioralStreamingApi.StreamAudio",
        "behavioral_api.grpc.v1.BehavioralStreamingApi.DeepfakeDetection",
    ]
    for m in service.methods:
        assert m.client_streaming and m.server_streaming
    fields = {
        "AudioConfig": [
            ("encoding", 1),
            ("sample_rate_hertz", 2),
            ("level", 3),
            ("logits", 4),
            ("feature_embedding", 5),
        ],
        "AudioStream": [("cid", 1), ("x_auth_token", 2), ("config", 3), ("audio_content", 4)],
        "Prediction": [("label", 1), ("posterior", 2), ("logit", 3)],
        "InferenceResult": [
            ("id", 1),
            ("start_time", 2),
            ("end_time", 3),
            ("task", 4),
            ("prediction", 5),
            ("final_label", 6),
            ("embedding", 7),
            ("level", 8),
        ],
        "StreamResult": [("cid", 1), ("pid", 2), ("message_id", 3), ("result", 4)],
    }
    for message, expected in fields.items():
        desc = api_pb2.DESCRIPTOR.message_types_by_name[message]
        assert [(f.name, f.number) for f in desc.fields] == expected
    optional = {
        ("AudioConfig", "level"),
        ("AudioConfig", "logits"),
        ("AudioConfig", "feature_embedding"),
        ("Prediction", "posterior"),
        ("Prediction", "logit"),
        ("InferenceResult", "embedding"),
        ("InferenceResult", "level"),
    }
    for message, name in optional:
        assert api_pb2.DESCRIPTOR.message_types_by_name[message].fields_by_name[name].has_presence
    assert api_pb2.AudioStream.DESCRIPTOR.fields_by_name["cid"].type == 3  # int64
    assert api_pb2.StreamResult.DESCRIPTOR.fields_by_name["message_id"].type == 5  # int32
    assert api_pb2.Level.Value("segment") == 0 and api_pb2.Level.Value("utterance") == 1
    assert api_pb2.AudioEncoding.Value("LINEAR_PCM") == 0
