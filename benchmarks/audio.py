"""Speech benchmark: real-time factor and word error rate of the bundled Whisper on real recordings.

Recordings: LibriVox excerpts from Debian's `pocketsphinx-testdata` (with reference transcripts).
    python benchmarks/audio.py [--asr-model NAME] [--save]
Prints JSON: per file and in total, seconds of audio, seconds of transcription, RTF, WER.
Goal (issue 4): RTF <= 0.15 on 2 CPU cores with the base model, WER <= 5 %.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def references(folder: Path) -> dict[str, str]:
    out = {}
    for line in (folder / "transcription").read_text().splitlines():
        match = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line.strip())
        if match:
            out[match[2]] = match[1]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr-model", default=None)
    parser.add_argument("--language", default="en")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/audio.json")
    args = parser.parse_args()
    if not LIBRIVOX.is_dir():
        sys.exit("install the recordings first: apt-get install pocketsphinx-testdata")

    from searchengine.audio import Transcriber
    from searchengine.config import cache_dir
    from searchengine.eval.wer import wer, word_errors

    transcriber = Transcriber(args.asr_model, device="auto", language=args.language, cache_dir=cache_dir())
    start = time.perf_counter()
    transcriber._loaded_model()  # load time is reported apart from transcription
    load_seconds = time.perf_counter() - start
    files, pairs, audio_total, asr_total = [], [], 0.0, 0.0
    for name, reference in sorted(references(LIBRIVOX).items()):
        start = time.perf_counter()
        transcript = transcriber.transcribe(LIBRIVOX / f"{name}.wav")
        seconds = time.perf_counter() - start
        hypothesis = " ".join(s.text for s in transcript.segments)
        errors, words = word_errors(reference, hypothesis)
        files.append({"file": name, "audio_s": round(transcript.duration, 2), "asr_s": round(seconds, 2),
                      "rtf": round(seconds / transcript.duration, 3), "wer": round(errors / words, 3),
                      "hypothesis": hypothesis})
        pairs.append((reference, hypothesis))
        audio_total += transcript.duration
        asr_total += seconds
    result = {
        "model": transcriber.model_id, "files": len(files), "audio_seconds": round(audio_total, 1),
        "asr_seconds": round(asr_total, 1), "rtf": round(asr_total / audio_total, 3), "wer": round(wer(pairs), 4),
        "model_load_seconds": round(load_seconds, 2), "per_file": files,
    }
    from searchengine.eval.measure import machine, save_result, to_json

    result["machine"] = machine()
    print(to_json(result))
    if args.save:
        save_result(result, "audio")

if __name__ == "__main__":
    main()
