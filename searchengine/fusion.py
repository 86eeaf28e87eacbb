"""Late fusion of what a video shows and what is said in it, at the same moment.

Search returns segments. In a video, a keyframe segment (what is seen from its time to the next
keyframe; no text) and a transcript segment (what is said; with text) that overlap in time are
two pieces of evidence for one moment. `fuse_moments` joins each such pair into one hit that
scores above either alone, so a moment that both looks and sounds right ranks first.
It works on calibrated scores (z-scores against unrelated pairs), which mean the same for either
tower; a segment joins a partner only when both are clearly above chance (PARTNER_MIN), so words
that have nothing to do with the query never label a keyframe hit, nor the reverse.

`interleave_kinds` orders a list that mixes kinds (`--type any`). Calibrated scores put each kind
on the scale of its own chance level, but not on one scale of relevance: a note that repeats the
query's words lies further above the texts' baseline than the right photo lies above the images'
(words against words share a tower), so ranked by score alone the notes fill the list and push
the right photos out of it. Each kind's n-th hit gives up KIND_STEP × (n - 1) of its score for
the order: a kind's best hits stay near the top, the weak tail of a dominant kind makes room for
the others' best (benchmarks/relevance.py: chosen on Tux Paint's tune half, confirmed on photos
with their captions indexed as notes). A hit below KIND_FLOOR (about chance for its kind) is never
moved ahead: in a small mixed folder the only recording, at 0.3, was otherwise lifted into third
place for "a cat" above a passage at 1.5; the floor changes no list of the benchmark collections. An image query's list is by score alone
(query.py): words against pictures are its weak kind, and taking turns lifted unrelated passages
over similar pictures (a coffee guide at 1.7 second, above a photo at 2.4) while its own caption
came into the top 10 no more often (photos-mixed: 0.702 of the photos taking turns, 0.719 by score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from searchengine.hits import Hit
from searchengine.kinds import VIDEO

BONUS = 0.5  # share of the weaker score added to the stronger one
SLACK = 1.0  # seconds: a keyframe and a transcript segment this close still count as one moment
PARTNER_MIN = 2.0  # calibrated score both segments need to be joined
KIND_STEP = 1.5  # calibrated score a hit gives up, for the order only, per better hit of its own kind
KIND_FLOOR = 1.0  # calibrated score below which a hit keeps its place by score (noise is not lifted)


def is_keyframe(hit: Hit) -> bool:
    """A video hit on a keyframe (image) rather than on a transcript segment."""
    return hit.kind == VIDEO and hit.text is None


def fuse_moments(
    hits: Sequence[Hit], *, bonus: float = BONUS, slack: float = SLACK, partner_min: float = PARTNER_MIN
) -> list[Hit]:
    """Segment hits (as from search with segments=True) with each video's overlapping keyframe and
    transcript hits joined, best first, ranks renumbered.

    Pairs whose scores both reach partner_min are joined. A joined hit scores max + bonus × min
    of the two calibrated scores; it spans the time the two share (the transcript's span when they
    only come within `slack` seconds), carries the transcript's text and the keyframe's segment id
    (its thumbnail is that keyframe). Each segment joins at most one partner, the best-scoring
    pairs first. Other hits pass through unchanged.
    The result still has several hits per file: collapse to the first per item_id afterwards for
    one hit per file.
    """
    out: list[Hit] = []
    by_video: dict[int, list[Hit]] = {}
    for hit in hits:
        if hit.kind == VIDEO and hit.start is not None:
            by_video.setdefault(hit.item_id, []).append(hit)
        else:
            out.append(hit)
    for segments in by_video.values():
        out += _fuse_video(segments, bonus, slack, partner_min)
    out.sort(key=lambda h: h.score, reverse=True)
    return [replace(h, rank=i + 1) for i, h in enumerate(out)]


def _fuse_video(hits: list[Hit], bonus: float, slack: float, partner_min: float) -> list[Hit]:
    frames = [h for h in hits if is_keyframe(h)]
    spoken = [h for h in hits if not is_keyframe(h)]
    pairs = sorted(
        (
            (_joined_score(f, s, bonus), i, j)
            for i, f in enumerate(frames)
            for j, s in enumerate(spoken)
            if min(f.score, s.score) >= partner_min and _overlap(f, s, slack)
        ),
        reverse=True,
    )
    used_frames: set[int] = set()
    used_spoken: set[int] = set()
    joined: list[Hit] = []
    for score, i, j in pairs:
        if i in used_frames or j in used_spoken:
            continue
        used_frames.add(i)
        used_spoken.add(j)
        joined.append(_join(frames[i], spoken[j], score))
    alone = [f for i, f in enumerate(frames) if i not in used_frames]
    alone += [s for j, s in enumerate(spoken) if j not in used_spoken]
    return joined + alone


def _joined_score(a: Hit, b: Hit, bonus: float) -> float:
    return max(a.score, b.score) + bonus * min(a.score, b.score)


def _end(hit: Hit) -> float:
    return hit.end if hit.end is not None else hit.start


def _overlap(a: Hit, b: Hit, slack: float) -> bool:
    return a.start <= _end(b) + slack and b.start <= _end(a) + slack


def _join(frame: Hit, spoken: Hit, score: float) -> Hit:
    start, end = max(frame.start, spoken.start), min(_end(frame), _end(spoken))
    if start > end:  # they only come close: the words say where the moment is
        start, end = spoken.start, _end(spoken)
    return replace(
        frame,
        score=round(score, 3),
        raw_score=max(frame.raw_score, spoken.raw_score),
        start=start,
        end=end,
        text=spoken.text,
        matched=tuple(dict.fromkeys(spoken.matched + frame.matched)),
    )


def interleave_kinds(hits: Sequence[Hit], step: float = KIND_STEP, floor: float = KIND_FLOOR) -> list[Hit]:
    """Hits of several kinds (one per file, as listed), ordered by score minus step × the number
    of better hits of the same kind; within a kind the order stays, scores are unchanged. Hits
    scoring below `floor` follow all the others, by score."""
    ordered = sorted(hits, key=lambda h: h.score, reverse=True)
    weak = [hit for hit in ordered if hit.score < floor]
    seen: dict[str, int] = {}
    keyed = []
    for hit in ordered[: len(ordered) - len(weak)]:
        better = seen.get(hit.kind, 0)
        seen[hit.kind] = better + 1
        keyed.append((hit.score - step * better, -len(keyed), hit))
    return [hit for _, _, hit in sorted(keyed, key=lambda t: (t[0], t[1]), reverse=True)] + weak
