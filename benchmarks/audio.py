"""Speech benchmark: real-time factor and word error rate of the bundled Whisper on real recordings.

Recordings: LibriVox excerpts from Debian's `pocketsphinx-testdata` (with reference transcripts).
    python benchmarks/audio.py [--asr-model NAME] [--long-minutes 30] [--save]
Prints JSON: per file and in total, seconds of audio, seconds of transcription, RTF, WER.
Goal (issue 4): RTF <= 0.15 on 2 CPU cores with the base model, WER <= 5 %.

`--long-minutes N` also builds an N-minute recording (the five excerpts over and over, each
followed by 1-8 s of silence, about half speech) and transcribes it in a fresh process, to
report its peak resident memory (`long.peak_rss_mb`; `rss_model_loaded_mb` is the same
process before transcribing), RTF, WER and whether every timestamp is ordered and within
the duration. Hours-long audio is transcribed in windows, so the peak must not grow with N.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
GAPS = (1.0, 2.5, 4.0, 6.0, 8.0)  # seconds of silence after each excerpt in the long recording, in turn


def references(folder: Path) -> dict[str, str]:
    out = {}
    for line in (folder / "transcription").read_text().splitlines():
        match = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line.strip())
        if match:
            out[match[2]] = match[1]
    return out


def build_long_recording(path: Path, minutes: float) -> str:
    """Write the excerpts, each followed by silence, until `minutes` long (16 kHz mono wav); returns
    the reference transcript of what was written."""
    refs = sorted(references(LIBRIVOX).items())
    clips = {}
    for name, _ in refs:
        with wave.open(str(LIBRIVOX / f"{name}.wav"), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16_000, 1, 2)
            clips[name] = w.readframes(w.getnframes())
    target = int(minutes * 60 * 16_000)
    written, said, turn = 0, [], 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        while True:
            name, reference = refs[turn % len(refs)]
            gap = bytes(2 * int(GAPS[(turn + turn // len(refs)) % len(GAPS)] * 16_000))
            if written + (len(clips[name]) + len(gap)) // 2 > target:
                break
            out.writeframes(clips[name] + gap)
            written += (len(clips[name]) + len(gap)) // 2
            said.append(reference)
            turn += 1
    return " ".join(said)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


def long_child(path: Path, asr_model: str | None, language: str) -> None:
    """In a fresh process: load the model, transcribe `path`, print peak memory and the transcript."""
    from searchengine.audio import Transcriber
    from searchengine.config import cache_dir

    transcriber = Transcriber(asr_model, device="auto", language=language, cache_dir=cache_dir())
    transcriber._loaded_model()
    loaded = _rss_mb()
    start = time.perf_counter()
    transcript = transcriber.transcribe(path)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rss_model_loaded_mb": loaded,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "asr_seconds": round(seconds, 1),
                "duration": transcript.duration,
                "segments": [[s.start, s.end, s.text] for s in transcript.segments],
            }
        )
    )


def measure_long(minutes: float, asr_model: str | None, language: str) -> dict:
    from searchengine.eval.wer import word_errors

    with tempfile.TemporaryDirectory(prefix="audio-bench-") as folder:
        path = Path(folder) / f"long-{minutes:g}min.wav"
        reference = build_long_recording(path, minutes)
        child = [sys.executable, __file__, "--long-child", str(path), "--language", language]
        if asr_model:
            child += ["--asr-model", asr_model]
        run = subprocess.run(child, check=True, capture_output=True, text=True)
    out = json.loads(run.stdout.splitlines()[-1])
    segments = out.pop("segments")
    duration = out["duration"]
    ordered = all(a[1] <= b[0] + 1e-6 and a[0] <= b[0] for a, b in zip(segments, segments[1:]))
    within = all(0.0 <= s <= e <= duration for s, e, _ in segments)
    errors, words = word_errors(reference, " ".join(text for _, _, text in segments))
    return {
        "minutes": minutes,
        "audio_seconds": round(duration, 1),
        **out,
        "rtf": round(out["asr_seconds"] / duration, 3),
        "wer": round(errors / words, 4),
        "segments": len(segments),
        "timestamps_ordered": ordered,
        "timestamps_within_duration": within,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr-model", default=None)
    parser.add_argument("--language", default="en")
    parser.add_argument(
        "--long-minutes", type=float, default=0.0, help="also measure memory and speed on a recording this long"
    )
    parser.add_argument("--long-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/audio.json")
    args = parser.parse_args()
    if not LIBRIVOX.is_dir():
        sys.exit("install the recordings first: apt-get install pocketsphinx-testdata")
    if args.long_child:
        long_child(args.long_child, args.asr_model, args.language)
        return

    from searchengine.audio import Transcriber
    from searchengine.config import cache_dir
    from searchengine.eval.measure import machine, save_result, to_json
    from searchengine.eval.wer import wer, word_errors

    started_on = machine()
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
        files.append(
            {
                "file": name,
                "audio_s": round(transcript.duration, 2),
                "asr_s": round(seconds, 2),
                "rtf": round(seconds / transcript.duration, 3),
                "wer": round(errors / words, 3),
                "hypothesis": hypothesis,
            }
        )
        pairs.append((reference, hypothesis))
        audio_total += transcript.duration
        asr_total += seconds
    result = {
        "model": transcriber.model_id,
        "files": len(files),
        "audio_seconds": round(audio_total, 1),
        "asr_seconds": round(asr_total, 1),
        "rtf": round(asr_total / audio_total, 3),
        "wer": round(wer(pairs), 4),
        "model_load_seconds": round(load_seconds, 2),
        "per_file": files,
    }
    if args.long_minutes:
        result["long"] = measure_long(args.long_minutes, args.asr_model, args.language)
    result["machine"] = {**started_on, "load_average_1m_at_end": machine().get("load_average_1m")}
    print(to_json(result))
    if args.save:
        save_result(result, "audio")


if __name__ == "__main__":
    main()
