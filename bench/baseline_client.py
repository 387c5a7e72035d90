"""The vendor's documented bare gRPC client: the baseline bsstream is measured against.

Written the way ``../shared/api-contract.md`` ("The vendor's documented bare client")
describes it, which is what users copy:

1. ``pydub.AudioSegment.from_file(path)`` loads the whole file, then
   ``.set_frame_rate(16000).set_channels(1).set_sample_width(2)`` and ``.raw_data``;
2. a generator yields the config-only message, then the bytes sliced into
   ``int(16000 * 0.25 * 2)`` = 8,000-byte chunks (250 ms), each with cid and token;
3. it is passed to ``stub.StreamAudio(...)`` and the loop prints ``message_id`` and, per
   result, ``start_time-end_time task final_label``.

Departures, each only what running it here needs (none changes the work it does):

- endpoint, cid and API key come from argv, and the channel is ``grpc.insecure_channel``
  to the loopback benchmark server instead of TLS to the production endpoint;
- ``api_pb2``/``api_pb2_grpc`` are bsstream's copies (``bsstream._gen``), which are the
  ``grpc_tools.protoc`` output for the same ``protos/api.proto`` the documentation has
  users generate;
- there is no system ffmpeg, so pydub is pointed at the imageio-ffmpeg binary
  (``AudioSegment.converter``);
- there is no ffprobe either, and pydub's ``from_file`` runs ``ffprobe`` (``mediainfo_json``)
  for every non-WAV file. pydub's own way round it: when ``codec`` is given, ``from_file``
  skips ``mediainfo_json`` and has ffmpeg decode with that decoder to a WAV on a pipe
  (pcm_s16le, read whole, then parsed). So a non-WAV file is loaded with
  ``AudioSegment.from_file(path, format=ext, codec=...)`` (``codec="mp3"`` for MP3).
  WAV files take pydub's pure-Python path (``format`` inferred from the extension) and
  need neither.

Usage: ``python bench/baseline_client.py FILE HOST:PORT CID API_KEY``
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator

import grpc
import imageio_ffmpeg

with warnings.catch_warnings():  # pydub warns at import when no ffmpeg is on PATH
    warnings.simplefilter("ignore")
    from pydub import AudioSegment

from bsstream._gen import api_pb2, api_pb2_grpc

AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()

# the decoder pydub should force for formats it would otherwise ffprobe first
CODECS = {"mp3": "mp3", "flac": "flac", "ogg": "libvorbis", "opus": "libopus", "m4a": "aac", "aac": "aac"}


def load(path: str) -> AudioSegment:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext == "wav":
        return AudioSegment.from_file(path)
    return AudioSegment.from_file(path, format=ext, codec=CODECS.get(ext, ext))


def main() -> None:
    path, endpoint, cid, api_key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

    audio = load(path)
    audio = audio.set_frame_rate(16000).set_channels(1).set_sample_width(2)
    raw = audio.raw_data
    chunk_size = int(16000 * 0.25 * 2)

    channel = grpc.insecure_channel(endpoint)
    stub = api_pb2_grpc.BehavioralStreamingApiStub(channel)

    def requests() -> Iterator[api_pb2.AudioStream]:
        yield api_pb2.AudioStream(
            cid=cid,
            x_auth_token=api_key,
            config=api_pb2.AudioConfig(encoding=api_pb2.LINEAR_PCM, sample_rate_hertz=16000),
        )
        for i in range(0, len(raw), chunk_size):
            yield api_pb2.AudioStream(cid=cid, x_auth_token=api_key, audio_content=raw[i : i + chunk_size])

    for response in stub.StreamAudio(requests()):
        print(response.message_id)
        for result in response.result:
            print(f"{result.start_time}-{result.end_time} {result.task} {result.final_label}")


if __name__ == "__main__":
    main()
