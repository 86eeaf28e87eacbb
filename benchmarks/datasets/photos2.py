"""Build a second real-photo evaluation folder: other packaged photos, queries in another style.

The first photo set (``photos.py``) pairs each photo with two short captions
("a cat", "close-up of a tabby cat's face").  This one checks that what was
tuned on it carries over to other photos described differently: one query per
photo, written (by looking at each photo) the way a person searches a photo
collection — what is in it, what it does, where, colours, and the names of
places and animals a layperson knows.  It is a test set only: nothing is
chosen on it.

Sources (install what is missing; photos whose package is absent are skipped
and counted)::

    apt-get update && apt-get install -y gcompris-qt-data lomiri-wallpapers-20.04 \\
        plasma-workspace-wallpapers
    pip install scikit-image

GCompris (``gcompris-qt-data``, GPL-3+) keeps its activity images in Qt
resource files (``/usr/share/gcompris-qt/rcc/*.rcc``) as WebP; a photo is
cut out of its resource file at its byte offset (recorded below for
gcompris-qt-data 3.1) and saved as JPEG (quality 92).  A photo whose offset
no longer holds a WebP image of the recorded size is skipped and counted.
Used: wildlife photos of the "erase" activity, animals of "explore world
animals", monuments of "explore monuments".

Usage::

    python benchmarks/datasets/photos2.py OUT_DIR              # the test split (all photos)
    python benchmarks/datasets/photos2.py OUT_DIR --split test # the same, for `bench recall`

Output (see ``common.py``): ``OUT/images/<source>/<name>.jpg``,
``pairs.jsonl`` (``"image"``, ``"captions"``, ``"source"``), ``test.jsonl``,
``split.json``, ``LICENSE.txt``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import struct
import sys
from pathlib import Path

try:
    from . import common
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

RCC = Path("/usr/share/gcompris-qt/rcc")
GCOMPRIS_COPYRIGHT = "/usr/share/doc/gcompris-qt-data/copyright"

# (activity resource file, byte offset of the WebP, (width, height), query)
GCOMPRIS: list[tuple[str, int, tuple[int, int], str]] = [
    ("erase", 14442, (1920, 1080), "a rhinoceros standing on the shore of a lake"),
    ("erase", 170230, (1920, 1080), "a brown calf with big ears staring at the camera"),
    ("erase", 244786, (1920, 1080), "green and black striped caterpillar on a plant stem, blue sky behind"),
    ("erase", 293634, (1920, 1080), "two white wading birds with long flat bills in shallow water"),
    ("erase", 416838, (1920, 1080), "red panda resting its head on a branch"),
    ("erase", 545882, (1920, 1080), "camel with a young camel walking on dry grassland"),
    ("erase", 655970, (1920, 1080), "bird of prey flying with its wings spread wide"),
    ("erase", 705722, (1920, 1080), "squirrel with tufted ears clinging to a tree trunk"),
    ("erase", 822068, (1920, 1080), "kingfisher with blue and orange feathers on a mossy branch"),
    ("erase", 896822, (1920, 1080), "two swans and their cygnets swimming on dark water"),
    ("erase", 998432, (1920, 1080), "young gorilla sitting among green leaves"),
    ("erase", 1234826, (1920, 1080), "white alpaca with a brown tuft of hair on its head"),
    ("erase", 1314534, (1920, 1080), "young wild goat standing on a rock above the desert"),
    ("erase", 1400044, (1920, 1080), "gibbon sitting on a branch in a tree"),
    ("erase", 1568170, (1920, 1080), "green chameleon walking along a thin branch"),
    ("erase", 1694482, (1920, 1080), "small furry pika with a leaf in its mouth on a rock"),
    ("erase", 1785662, (1920, 1080), "red crab on grey sand"),
    ("erase", 1947350, (1920, 1080), "three meerkats standing upright side by side"),
    ("erase", 2111744, (1920, 1080), "black and white butterfly on a purple flower"),
    ("erase", 2163142, (1920, 1080), "heron flying with its neck stretched out"),
    ("erase", 2259250, (1920, 1080), "cheetah lying in the grass licking its nose"),
    ("erase", 2429376, (1885, 1060), "bee flying towards red flowers"),
    ("erase", 2468270, (1920, 1080), "chestnut pony with a blond mane in front of snowy mountains"),
    ("erase", 2612356, (1920, 1080), "fluffy yellow gosling walking on the grass"),
    ("erase", 2750402, (1920, 1080), "penguin waddling across green moss"),
    ("erase", 2885212, (1920, 1080), "monkey with messy hair on its head, side view"),
    ("erase", 2952732, (1920, 1080), "fruit bat flying with open wings"),
    ("erase", 3025796, (1920, 1080), "toucan with a yellow belly on a branch"),
    ("erase", 3127740, (1920, 1080), "dolphin swimming underwater in blue light"),
    ("erase", 3347702, (1920, 1080), "black and white goat with horns on a mountainside"),
    ("erase", 3505888, (1920, 1080), "long-nosed monkey holding its baby"),
    ("erase", 3578066, (1920, 1080), "giraffe head and neck up close"),
    ("erase", 3658664, (1920, 1080), "orange kitten lying on a wooden plank"),
    ("explore_world_animals", 49919, (0, 0), "kangaroo with a joey in the shade of trees"),
    ("explore_world_animals", 143241, (0, 0), "moose with large antlers lying down in the grass"),
    ("explore_world_animals", 204451, (0, 0), "lizard on a branch among green leaves"),
    ("explore_world_animals", 319619, (0, 0), "crocodile lying in the mud at the water's edge"),
    ("explore_world_animals", 439055, (0, 0), "hedgehog in the grass"),
    ("explore_world_animals", 615640, (0, 0), "red macaw parrot perched on a wooden post"),
    ("explore_world_animals", 637634, (0, 0), "koala sitting in the fork of a tree"),
    ("explore_world_animals", 716720, (0, 0), "ring-tailed lemurs sitting on a log"),
    ("explore_world_animals", 776404, (0, 0), "komodo dragon crawling on a rock"),
    ("explore_world_animals", 876918, (0, 0), "polar bear walking through snow"),
    ("explore_world_animals", 991822, (0, 0), "bison grazing in a green field with the herd behind"),
    ("explore_world_animals", 1181608, (0, 0), "narwhals with long tusks swimming in the sea"),
    ("explore_world_animals", 1229800, (0, 0), "two spotted big cats playing on the rocks"),
    ("explore_world_animals", 1319890, (0, 0), "giant panda sitting on a rock"),
    ("explore_world_animals", 1356348, (0, 0), "two giraffes standing among trees in the savanna"),
    ("explore_monuments", 46476, (0, 0), "village of stone houses built into a cliff above a green valley"),
    ("explore_monuments", 96424, (0, 0), "ancient roman amphitheatre with rows of stone arches"),
    ("explore_monuments", 154076, (0, 0), "huge gothic stone palace with pointed towers, tourists in the square"),
    ("explore_monuments", 213234, (0, 0), "renaissance chateau with many chimneys behind a wide lawn"),
    ("explore_monuments", 326398, (0, 0), "white castle built across a river on arches"),
    ("explore_monuments", 424754, (0, 0), "eiffel tower seen from a park with rows of trees"),
    ("explore_monuments", 488125, (0, 0), "gothic cathedral with a spire against a deep blue sky"),
    ("explore_monuments", 525155, (0, 0), "medieval fortress walls and towers on a grassy hill"),
    ("explore_monuments", 663831, (0, 0), "abbey on a rocky island rising above the tidal flats"),
    ("explore_monuments", 696069, (0, 0), "roman aqueduct bridge with three rows of arches over a river"),
    ("explore_monuments", 838207, (0, 0), "great stone pyramid in the desert"),
    ("explore_monuments", 1016655, (0, 0), "square monument with four minarets and a big arch"),
    ("explore_monuments", 1084243, (0, 0), "tall sandstone tower seen through a stone archway"),
    ("explore_monuments", 1154013, (0, 0), "monumental gateway lit up at dusk next to palm trees"),
    ("explore_monuments", 1241771, (0, 0), "ornate palace with red domes behind a garden"),
    ("explore_monuments", 1295425, (0, 0), "caves cut into a cliff on a green jungle hillside"),
    ("explore_monuments", 1470911, (0, 0), "carved stone pillars of an old hindu temple"),
    ("explore_monuments", 1599567, (0, 0), "golden temple standing in a lake"),
    ("explore_monuments", 1638413, (0, 0), "round buddhist stupa with a carved stone gate"),
    ("explore_monuments", 1687365, (0, 0), "pink palace facade with hundreds of small windows"),
    ("explore_monuments", 1807741, (0, 0), "white marble memorial hall with domes and a lawn"),
    ("explore_monuments", 1900209, (0, 0), "faces of presidents carved into a granite mountain"),
    ("explore_monuments", 1989087, (0, 0), "river winding through a red rock canyon"),
    ("explore_monuments", 2064283, (0, 0), "statue of liberty on its pedestal"),
    ("explore_monuments", 2097725, (0, 0), "old red brick house with tall chimneys and a bare tree"),
    ("explore_monuments", 2180543, (0, 0), "cliff dwellings built under an orange sandstone overhang"),
    ("explore_monuments", 2258147, (0, 0), "white temple with columns lit up at dusk"),
    ("explore_monuments", 2312825, (0, 0), "aerial view of a star-shaped stone fort by the sea"),
    (
        "explore_monuments",
        2394293,
        (0, 0),
        "black and white photo of a round fort by a harbour with skyscrapers behind",
    ),
    ("explore_monuments", 2441265, (0, 0), "temple facade carved into a rock cliff"),
    ("explore_monuments", 2548815, (0, 0), "stepped mayan pyramid on a lawn under clouds"),
    ("explore_monuments", 2615509, (0, 0), "taj mahal with its long reflecting pool"),
    ("explore_monuments", 2665161, (0, 0), "statue of christ with open arms on a mountain above a city"),
    ("explore_monuments", 2887789, (0, 0), "the colosseum in rome"),
    ("explore_monuments", 2976727, (0, 0), "inca ruins on a green mountain ridge below a steep peak"),
    ("explore_monuments", 3048427, (0, 0), "great wall of china winding over green hills"),
    ("explore_monuments", 3162171, (0, 0), "fairy-tale white castle on a forested hill"),
    ("explore_monuments", 3267541, (0, 0), "cathedral with green copper domes"),
    ("explore_monuments", 3359134, (0, 0), "tall brick basilica with arched windows and cars parked in front"),
    ("explore_monuments", 3428414, (0, 0), "ruined stone walls of roman baths on a lawn"),
    ("explore_monuments", 3487864, (0, 0), "brandenburg gate glowing at sunset"),
    ("explore_monuments", 3527620, (0, 0), "palace with golden towers by a lake behind bare trees"),
    ("explore_monuments", 3608408, (0, 0), "red sandstone cathedral with twin towers and a fountain"),
]


def _python_package_dir(name: str, *sub: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0], *sub)


# (source, absolute path or a callable giving it, query, package)
FILES: list[tuple[str, object, str, str]] = [
    (
        "lomiri",
        "/usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg",
        "milky way above a calm sea at dusk",
        "lomiri-wallpapers-20.04 (Debian)",
    ),
    (
        "plasma",
        "/usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg",
        "misty lake in blue twilight",
        "plasma-workspace-wallpapers (Debian)",
    ),
    (
        "plasma",
        "/usr/share/wallpapers/Grey/contents/images/2560x1600.jpg",
        "black and white picture of a building's wavy facade",
        "plasma-workspace-wallpapers (Debian)",
    ),
    (
        "skimage",
        lambda: _python_package_dir("skimage", "data", "page.png"),
        "photo of a printed page of text",
        "scikit-image (PyPI)",
    ),
    (
        "skimage",
        lambda: _python_package_dir("skimage", "data", "text.png"),
        "handwritten maths on a sheet of paper",
        "scikit-image (PyPI)",
    ),
]

LICENCES = {
    "gcompris": GCOMPRIS_COPYRIGHT,
    "lomiri": "/usr/share/doc/lomiri-wallpapers-20.04/copyright",
    "plasma": "/usr/share/doc/plasma-workspace-wallpapers/copyright",
    "skimage": "scikit-image sample data: public domain or CC0 (see skimage/data/README.txt)",
}


def cut_webp(rcc: Path, offset: int):
    """The WebP image stored at `offset` of a Qt resource file, as a PIL image; None if absent."""
    from PIL import Image

    if not rcc.exists():
        return None
    with open(rcc, "rb") as f:
        f.seek(offset)
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
            return None
        size = struct.unpack("<I", head[4:8])[0]
        data = head + f.read(size - 4)
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build the second real-photo evaluation folder (test only).")
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument("--split", choices=["all", "test"], default="all")
    args = ap.parse_args(argv)
    out = common.prepare_out(args.out, "photos2")

    pairs, missing, used = [], [], set()
    for activity, offset, want, query in GCOMPRIS:
        key = f"images/gcompris/{activity}-{offset}.jpg"
        image = cut_webp(RCC / f"{activity}.rcc", offset)
        if image is None or (want != (0, 0) and image.size != want):
            missing.append(f"gcompris:{activity}@{offset}")
            continue
        (out / key).parent.mkdir(parents=True, exist_ok=True)
        if not (out / key).exists():
            image.save(out / key, quality=92)
        used.add("gcompris")
        pairs.append(
            {
                "image": key,
                "captions": [query],
                "source": f"gcompris-qt-data (Debian): {RCC / activity}.rcc at byte {offset}",
            }
        )
    for source, where, query, package in FILES:
        path = where() if callable(where) else Path(where)
        if path is None or not Path(path).exists():
            missing.append(f"{source}:{where if not callable(where) else query}")
            continue
        path = Path(path)
        name = path.parts[-4] + path.suffix if source == "plasma" else path.name
        key = f"images/{source}/{name}"
        common.copy_file(path, out / key)
        used.add(source)
        pairs.append({"image": key, "captions": [query], "source": f"{package}: {path}"})

    assignment = {p["image"]: "test" for p in pairs}
    meta = {"builder": "photos2", "seed": 0, "method": "every photo is test (a set for reporting only)"}
    counts = common.write_dataset(out, pairs, assignment, "test" if args.split == "test" else "all", meta)
    notes = [
        "Photos in this folder were copied or cut from installed packages; queries were written\n"
        "for this evaluation set (public domain). Licences of the photos, by source:\n"
    ]
    for source in sorted(used):
        note = LICENCES[source]
        notes.append(f"\n== {source}\n")
        notes.append(
            Path(note).read_text(encoding="utf-8", errors="replace")
            if note.startswith("/") and Path(note).exists()
            else note + "\n"
        )
    (out / "LICENSE.txt").write_text("".join(notes), encoding="utf-8")
    counts["missing_sources"] = len(missing)
    if missing:
        print("missing: " + ", ".join(missing), file=sys.stderr)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
