"""Speech in recordings to timestamped transcript segments (faster-whisper)."""

from searchengine.audio.transcribe import (
    AUDIO_EXTENSIONS,
    Transcriber,
    Transcript,
    TranscriptSegment,
)
from searchengine.audio.whisper_model import bundled_whisper_dir

__all__ = [
    "AUDIO_EXTENSIONS",
    "Transcriber",
    "Transcript",
    "TranscriptSegment",
    "bundled_whisper_dir",
]
