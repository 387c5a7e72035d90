"""Pure: the service's streaming methods, by name (the gRPC method's name is the value).

Below the engine and the transport, so both (and the result model) may name a method.
"""

from __future__ import annotations

import enum


class Method(str, enum.Enum):
    """What a stream asks of the service; the value is the gRPC method's name."""

    ANALYZE = "StreamAudio"  # behavioural analysis: rpc StreamAudio
    DEEPFAKE = "DeepfakeDetection"  # deepfake detection: rpc DeepfakeDetection

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


SCAN = "scan"  # both methods on one input, merged (bsstream scan): a run's method, never a call's
