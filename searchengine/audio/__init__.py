"""Speech in recordings to timestamped transcript segments (faster-whisper)."""

from searchengine.audio.transcribe import Transcriber, Transcript, TranscriptSegment
from searchengine.audio.whisper_model import bundled_whisper_dir
from searchengine.kinds import AUDIO_EXTENSIONS

__all__ = [
    "AUDIO_EXTENSIONS",
    "Transcriber",
    "Transcript",
    "TranscriptSegment",
    "bundled_whisper_dir",
]
