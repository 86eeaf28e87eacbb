#!/usr/bin/env bash
# System packages the test suite uses: espeak-ng + sox (speech with known words for the audio
# tests), real LibriVox recordings (pocketsphinx-testdata) and the Debian data packages the
# benchmark dataset builders read, Chromium for the web page test (Playwright drives it), and the
# DejaVu and Liberation fonts the OCR tests and benchmarks render text with, and tesseract-ocr, which
# reads clean scanned pages first (searchengine/media/tesseract.py).
# Safe to re-run; does nothing where they are already installed.
set -euo pipefail
packages=(espeak-ng sox pocketsphinx-testdata tuxpaint-stamps-default openclipart-svg librsvg2-bin chromium
          fonts-dejavu-core fonts-liberation tesseract-ocr tesseract-ocr-eng)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "install-test-deps: no apt-get here; install ${missing[*]} yourself (tests that need them are skipped)" >&2
  exit 0
fi
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
