"""Build a real-photo image–caption evaluation folder from photos that ship in packages.

The bundled encoder is trained on clipart and on ImageNet class names; this set
checks that it still works on photographs of everyday subjects.  No image here
is ever used for training.  Captions were written by hand for this set (two per
photo, one short and one more descriptive) and live in this script.

Sources (install what is missing; photos whose package is absent are skipped
and counted)::

    pip install scikit-image scikit-learn matplotlib
    apt-get update && apt-get install -y palapeli-data lomiri-wallpapers-16.04 \\
        mate-backgrounds plasma-workspace-wallpapers

Usage::

    python benchmarks/datasets/photos.py OUT_DIR               # val + test
    python benchmarks/datasets/photos.py OUT_DIR --split test  # for `bench recall`
    python benchmarks/datasets/photos.py OUT_DIR --split test --lang zh   # captions in Chinese (es, de)

Output (see ``common.py``): ``OUT/images/<source>/<file>`` (copies of the
original files), ``pairs.jsonl`` (``"image"``, ``"captions"``, ``"source"``:
package and path), ``val.jsonl``, ``test.jsonl``, ``split.json``,
``LICENSE.txt`` (each package's copyright statement).

Split: a quarter of the photos (``random.Random(0)`` over the sorted image
paths) form a validation split for choosing between model variants (for example
a fusion weight); the rest are the test split that results are reported on.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

try:
    from . import common
    from .photo_translations import LANGS, TRANSLATIONS
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common
    from photo_translations import LANGS, TRANSLATIONS


def _python_package_dir(name: str, *sub: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0], *sub)


PLASMA = "/usr/share/wallpapers/{}/contents/images/1920x1080.jpg"
# source name -> (root folder or None when not installed, package, licence note)
SOURCES = {
    "skimage": (
        lambda: _python_package_dir("skimage", "data"),
        "scikit-image (PyPI)",
        "scikit-image sample data: public domain or CC0 (see skimage/data/README.txt)",
    ),
    "sklearn": (
        lambda: _python_package_dir("sklearn", "datasets", "images"),
        "scikit-learn (PyPI)",
        "scikit-learn sample images (china.jpg, flower.jpg): CC BY 2.0, from Flickr",
    ),
    "matplotlib": (
        lambda: _python_package_dir("matplotlib", "mpl-data", "sample_data"),
        "matplotlib (PyPI)",
        "grace_hopper.jpg: US Navy photograph, public domain",
    ),
    "palapeli": (
        lambda: Path("/usr/share/palapeli/collection"),
        "palapeli-data (Debian)",
        "/usr/share/doc/palapeli-data/copyright",
    ),
    "lomiri": (
        lambda: Path("/usr/share/backgrounds"),
        "lomiri-wallpapers-16.04 (Debian)",
        "/usr/share/doc/lomiri-wallpapers-16.04/copyright",
    ),
    "mate": (
        lambda: Path("/usr/share/backgrounds/mate/nature"),
        "mate-backgrounds (Debian)",
        "/usr/share/doc/mate-backgrounds/copyright",
    ),
    "plasma": (
        lambda: Path("/usr/share/wallpapers"),
        "plasma-workspace-wallpapers (Debian)",
        "/usr/share/doc/plasma-workspace-wallpapers/copyright",
    ),
}

# (source, file under the source root, [two hand-written captions])
PHOTOS: list[tuple[str, str, list[str]]] = [
    ("skimage", "astronaut.png", ["an astronaut in an orange spacesuit", "a smiling woman astronaut with her helmet"]),
    (
        "skimage",
        "camera.png",
        ["a man taking a picture with a camera on a tripod", "black and white photo of a cameraman in a park"],
    ),
    ("skimage", "chelsea.png", ["a cat", "close-up of a tabby cat's face"]),
    ("skimage", "coffee.png", ["a cup of coffee", "an espresso cup on a red saucer"]),
    ("skimage", "coins.png", ["old coins", "rows of ancient coins on a dark background"]),
    ("skimage", "rocket.jpg", ["a rocket on a launch pad", "a space rocket at night before launch"]),
    ("skimage", "motorcycle_left.png", ["a red motorcycle", "a motorbike parked in a garage"]),
    ("skimage", "hubble_deep_field.jpg", ["galaxies in deep space", "a telescope image of many distant galaxies"]),
    ("skimage", "retina.jpg", ["a photo of the retina of an eye", "the back of an eye with blood vessels"]),
    ("skimage", "brick.png", ["a brick wall", "grey bricks in rows"]),
    ("skimage", "grass.png", ["grass", "close-up of blades of grass in black and white"]),
    ("skimage", "gravel.png", ["gravel", "a heap of small stones"]),
    ("skimage", "ihc.png", ["stained tissue under a microscope", "a microscope slide of cells stained brown and blue"]),
    ("skimage", "moon.png", ["the surface of the moon", "craters on the lunar surface"]),
    ("sklearn", "china.jpg", ["a Chinese pagoda", "a traditional temple tower among trees by a lake"]),
    ("sklearn", "flower.jpg", ["an orange dahlia", "a round flower with many petals"]),
    (
        "matplotlib",
        "grace_hopper.jpg",
        ["portrait of an old woman in a navy uniform", "an elderly woman with glasses and a military cap"],
    ),
    ("palapeli", "castle-maintenon.jpg", ["a castle with towers", "a French chateau under a blue sky"]),
    ("palapeli", "cincinnati-bridge.jpg", ["a bridge at night", "a lit suspension bridge over a river"]),
    ("palapeli", "citrus-fruits.jpg", ["slices of oranges and lemons", "sliced citrus fruit"]),
    ("palapeli", "european-honey-bee.jpg", ["a bee on a flower", "a honey bee on a purple aster"]),
    ("palapeli", "panther-chameleon-female.jpg", ["a chameleon", "a lizard climbing a branch"]),
    (
        "lomiri",
        "Kleiber_by_Lukas_Baubkus.jpg",
        ["a small bird on a tree trunk", "a nuthatch clinging to the bark of a tree"],
    ),
    ("lomiri", "Picture_0B_by_freespace.jpg", ["a fig in a red bowl", "half a fig on a red dish"]),
    ("lomiri", "Picture_1A_by_freespace.jpg", ["paint brushes", "colourful brushes covered in paint"]),
    ("lomiri", "Wine_by_Jakkub_Mede.jpg", ["a drum on a beanbag", "a living room with a djembe and a bottle of wine"]),
    (
        "lomiri",
        "aitzgorri_by_Aitzol_Berasategi.jpg",
        ["a mountain landscape in autumn", "green meadow and autumn trees below a mountain"],
    ),
    (
        "lomiri",
        "free_by_Peter_Nerlich.jpg",
        ["a toy bird hanging under lamps", "a bird figurine below a ceiling light"],
    ),
    (
        "lomiri",
        "friends_by_Aitzol_Berasategi.jpg",
        ["two dogs looking out of a window", "brown spaniels peeking out of a wooden house"],
    ),
    ("lomiri", "greentock_by_Peter_Nerlich.jpg", ["a wall clock", "close-up of a clock face with its hands"]),
    ("lomiri", "life_by_Aitzol_Berasategi.jpg", ["a stream in a forest", "a creek flowing over rocks among trees"]),
    ("lomiri", "picosdeeuropa_by_Aitzol_Berasategi.jpg", ["a path in the mountains", "rocky mountain peaks with snow"]),
    ("lomiri", "seeding_by_Clements_Engelhardt.jpg", ["dandelions at sunset", "dandelion seed heads in a field"]),
    ("lomiri", "sunset_by_Aitzol_Berasategi.jpg", ["a sunset", "the sun going down over the hills"]),
    (
        "lomiri",
        "Bridge_by_Sander_Klootwijk.jpg",
        ["steel cables against a blue sky", "a beach seen between the cables of a bridge"],
    ),
    ("lomiri", "Dragonfly_by_Bolly.jpg", ["a dragonfly", "a dragonfly on a twig among green leaves"]),
    ("mate", "Aqua.jpg", ["a splash of water", "a drop falling into water"]),
    ("mate", "Blinds.jpg", ["a green leaf", "the veins of a large green leaf up close"]),
    ("mate", "Dune.jpg", ["dune grass by the sea", "tall grass on a sand dune near the beach"]),
    ("mate", "FreshFlower.jpg", ["an orange flower", "orange petals seen up close"]),
    ("mate", "Garden.jpg", ["a red marigold", "a red and yellow flower in a garden"]),
    ("mate", "GreenMeadow.jpg", ["green grass", "a meadow of fresh green grass"]),
    ("mate", "LadyBird.jpg", ["a ladybird", "a ladybug on a stem among small blue flowers"]),
    ("mate", "RainDrops.jpg", ["raindrops on leaves", "water droplets on green leaves"]),
    ("mate", "Storm.jpg", ["storm clouds", "a dark cloudy sky over a road"]),
    ("mate", "TwoWings.jpg", ["dandelion seeds", "two fluffy seeds in front of orange flowers"]),
    ("mate", "Wood.jpg", ["wood", "a pale wooden surface"]),
    ("mate", "YellowFlower.jpg", ["a yellow flower", "yellow petals of a daisy close-up"]),
    (
        "plasma",
        "/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
        ["colourful cups", "rows of plastic cups seen from above"],
    ),
    ("plasma", PLASMA.format("EveningGlow"), ["rowing boats on a shore at sunset", "wooden boats by a lake"]),
    ("plasma", PLASMA.format("FallenLeaf"), ["a fallen leaf", "a maple leaf on the ground in autumn"]),
    ("plasma", PLASMA.format("Kite"), ["a kite in the sky", "a kite flying among white clouds"]),
    ("plasma", PLASMA.format("Path"), ["a path through a forest", "a trail among pine trees"]),
    ("plasma", PLASMA.format("ColdRipple"), ["a jetty in the fog", "a wooden pier on a misty lake"]),
    ("plasma", PLASMA.format("BytheWater"), ["a wooden deck by a lake", "boards of a pier by the water"]),
    ("plasma", PLASMA.format("OneStandsOut"), ["moss", "green moss plants seen from above"]),
    ("plasma", PLASMA.format("summer_1am"), ["a calm lake at dusk", "a purple evening sky over the water"]),
]


def image_key(source: str, rel: str) -> str:
    """OUT-relative image path: images/<source>/<file name> (plasma: the wallpaper's name)."""
    parts = Path(rel).parts
    name = f"{parts[-4]}.jpg" if source == "plasma" else parts[-1]
    return f"images/{source}/{name}"


def resolve(source: str, rel: str) -> Path | None:
    root = SOURCES[source][0]()
    if root is None:
        return None
    path = Path(rel) if Path(rel).is_absolute() else root / rel
    return path if path.exists() else None


def license_text(used: set[str]) -> str:
    parts = [
        "Photos in this folder were copied from installed packages; captions were written\n"
        "for this evaluation set (public domain). Licences of the photos, by source:\n"
    ]
    for source in sorted(used):
        _, package, note = SOURCES[source]
        parts.append(f"\n== {source}: {package}\n")
        path = Path(note)
        if path.is_absolute() and path.exists():
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
        else:
            parts.append(note + "\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build the real-photo evaluation folder.")
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument("--split", choices=["all", "val", "test"], default="all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.25)
    ap.add_argument(
        "--lang",
        choices=("en",) + LANGS,
        default="en",
        help="caption language (translations exist for the test split: use with --split test)",
    )
    args = ap.parse_args(argv)
    if args.lang != "en" and args.split != "test":
        raise SystemExit("error: --lang needs --split test (only the test captions are translated)")

    keys = [image_key(s, rel) for s, rel, _ in PHOTOS]
    if len(set(keys)) != len(keys):
        raise SystemExit("error: two photos map to one image path")
    val = common.random_split(keys, args.val_fraction, args.seed)
    assignment = {k: ("val" if k in val else "test") for k in keys}
    out = common.prepare_out(args.out, "photos")

    pairs, missing, used = [], [], set()
    for (source, rel, captions), key in zip(PHOTOS, keys):
        src = resolve(source, rel)
        if src is None:
            missing.append(f"{source}:{rel}")
            continue
        if args.lang != "en" and assignment[key] == "test":
            captions = [TRANSLATIONS[c][LANGS.index(args.lang)] for c in captions]
        pair = {"image": key, "captions": captions, "source": f"{SOURCES[source][1]}: {src}"}
        if args.split in ("all", assignment[key]):
            common.copy_file(src, out / key)
            used.add(source)
        pairs.append(pair)

    meta = {
        "builder": "photos",
        "seed": args.seed,
        "lang": args.lang,
        "method": f"random by image, val fraction {args.val_fraction}, "
        "random.Random(seed).shuffle over sorted image paths",
    }
    counts = common.write_dataset(out, pairs, assignment, args.split, meta)
    (out / "LICENSE.txt").write_text(license_text(used), encoding="utf-8")
    counts["missing_sources"] = len(missing)
    if missing:
        print("missing (package not installed): " + ", ".join(missing), file=sys.stderr)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
