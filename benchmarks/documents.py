"""Document extraction benchmark: text-PDF pages per second, the other readers' speed, and the
choice of HTML main-text extractor (selectolax, ours, vs trafilatura) by quality and speed.

1. Text PDFs: a generated N-page report (fpdf2, DejaVu Sans) read through `read_document`.
   Target: ≥ 50 pages/s.
2. .docx / .odt / .epub / HTML: generated documents of ~100 paragraphs, documents per second.
3. HTML main text: pages built around known article paragraphs (samples/texts) with a cookie
   banner, navigation, a sidebar, a footer and scripts, in two layouts (HTML5 landmarks; bare
   <div>s with class names), plus a hand-written blog page. Quality = share of the article's
   words kept (recall) and share of the furniture's words that leak in; speed on real pages where
   found (the Rust documentation's HTML that rustup installs, mdBook and rustdoc pages), with the
   word-set agreement (Jaccard) of the two extractors there. trafilatura is optional
   (`pip install trafilatura lxml_html_clean`).

Usage:
    python benchmarks/documents.py [--pages 200] [--save]
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from searchengine.eval import sample_documents as make  # noqa: E402
from searchengine.eval.measure import machine, save_result, to_json  # noqa: E402
from searchengine.eval.text_images import sentences  # noqa: E402
from searchengine.media.documents import read_document  # noqa: E402
from searchengine.media.documents.html import decode_markup, html_blocks  # noqa: E402

log = logging.getLogger("bench.documents")
TEXTS = ROOT / "samples" / "texts"
NAV = ["Home", "Shop catalogue", "Gift vouchers", "Opening hours", "Contact us", "Careers"]
FOOTER = "Copyright Widget Holdings GmbH, Impressum, privacy statement and terms of trade"
SCRIPT = "window.analyticsQueue=[];function trackVisitor(id){analyticsQueue.push(id)};trackVisitor('UA-77')"
BLOG = """<!DOCTYPE html><html><head><title>{title} | Weekend Projects</title>
<link rel="stylesheet" href="/site.css"><script src="/bundle.js"></script>
<script type="application/ld+json">{{"@type": "BlogPosting", "publisherLogoCaption": "Weekend Projects logo"}}</script></head>
<body class="post-template"><div id="skip-link"><a href="#content">Skip to content</a></div>
<div class="site-header"><div class="logo">Weekend Projects</div><ul class="main-menu">{nav}</ul>
<div class="search-box"><input placeholder="Search articles"></div></div>
<div class="breadcrumb"><a href="/">Home</a> / <a href="/guides">Guides</a></div>
<div id="content"><div class="post"><h1 class="post-title">{title}</h1><div class="post-meta">Posted on 4 March 2026</div>
<div class="post-body">{body}</div>
<div class="share-buttons"><a>Share on social networks</a><a>Email this recipe</a></div>
<div class="related-posts"><h3>You might also like</h3><a>Ten uses for old tea towels</a></div></div>
<div class="comments"><h3>2 comments</h3><p>Great post, thanks for sharing!</p></div></div>
<div class="widget-area sidebar"><h3>Popular tags</h3><a>woodwork</a> <a>knitting</a></div>
<div class="site-footer"><p>{footer}</p></div>
<script>{script}</script></body></html>"""


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def articles(n: int) -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted(TEXTS.iterdir())[:n]:
        found.append(
            (
                path.stem.replace("_", " ").capitalize(),
                sentences(path.read_text(encoding="utf-8", errors="replace"))[:12],
            )
        )
    return found


def quality(extractors: dict) -> dict:
    furniture = words(
        " ".join(NAV) + " " + FOOTER + " " + SCRIPT + " Subscribe to our newsletter cookies Accept "
        "Skip content Search articles Share social networks Email this recipe You might also like Ten "
        "uses old tea towels comments Great post thanks sharing Popular tags woodwork knitting "
        "logo publisherLogoCaption"
    )
    result = {}
    for name, extract in extractors.items():
        kept, leaked, article_total, furniture_total = 0, 0, 0, 0
        for title, paragraphs in articles(8):
            pages = [
                make.html_page(title, paragraphs, nav=NAV, footer=FOOTER, script=SCRIPT, semantic=semantic)
                for semantic in (True, False)
            ]
            pages.append(
                BLOG.format(
                    title=title,
                    body="".join(f"<p>{p}</p>" for p in paragraphs),
                    nav="".join(f"<li>{n}</li>" for n in NAV),
                    footer=FOOTER,
                    script=SCRIPT,
                )
            )
            article = words(" ".join(paragraphs)) - furniture
            for page in pages:
                got = words(extract(page))
                kept += len(article & got)
                article_total += len(article)
                leaked += len((furniture - words(title + " " + " ".join(paragraphs))) & got)
                furniture_total += len(furniture - words(title + " " + " ".join(paragraphs)))
        result[name] = {
            "article_words_kept": round(kept / article_total, 4),
            "furniture_words_leaked": round(leaked / furniture_total, 4),
            "pages": 24,
        }
    return result


def real_pages(limit: int) -> list[Path]:
    found = sorted(Path.home().glob(".rustup/toolchains/*/share/doc/rust/html/**/*.html"))
    step = max(1, len(found) // limit)
    return found[::step][:limit]


def speed(extractors: dict, pages: list[Path]) -> dict:
    markups = [decode_markup(p.read_bytes()) for p in pages]
    result, outputs = {}, {}
    for name, extract in extractors.items():
        start = time.perf_counter()
        outputs[name] = [words(extract(m)) for m in markups]
        seconds = time.perf_counter() - start
        result[name] = {
            "pages": len(markups),
            "ms_per_page": round(seconds / max(len(markups), 1) * 1000, 2),
            "mb": round(sum(len(m) for m in markups) / 1e6, 1),
        }
    if len(outputs) == 2 and markups:
        a, b = outputs.values()
        result["jaccard_between_extractors_mean"] = round(
            sum(len(x & y) / max(len(x | y), 1) for x, y in zip(a, b)) / len(markups), 3
        )
    return result


def extractors() -> dict:
    found = {"selectolax (ours)": lambda markup: "\n".join(html_blocks(markup))}
    try:
        import trafilatura

        found["trafilatura"] = lambda markup: trafilatura.extract(markup, include_tables=True) or ""
    except ImportError:
        log.warning("trafilatura not installed: only selectolax measured")
    return found


def reader_speed(tmp: Path, pages: int) -> dict:
    paragraphs = [p for _, ps in articles(14) for p in ps]
    body = "\n\n".join(paragraphs)
    chunks = [body[i : i + 2500] for i in range(0, len(body), 2500)]
    pdf = make.text_pdf(tmp / "report.pdf", [chunks[i % len(chunks)] for i in range(pages)])
    files = {
        "pdf": pdf,
        "docx": make.docx_file(tmp / "report.docx", "Report", paragraphs * 2),
        "odt": make.odt_file(tmp / "report.odt", "Report", paragraphs * 2),
        "epub": make.epub_file(tmp / "book.epub", "Book", [(f"Chapter {i}", paragraphs[i::10]) for i in range(10)]),
    }
    (tmp / "page.html").write_text(
        BLOG.format(
            title="Report", body="".join(f"<p>{p}</p>" for p in paragraphs * 2), nav="", footer=FOOTER, script=SCRIPT
        ),
        encoding="utf-8",
    )
    files["html"] = tmp / "page.html"
    result = {}
    for name, path in files.items():
        read_document(path)  # warm: imports
        rounds, start = 3, time.perf_counter()
        for _ in range(rounds):
            extraction = read_document(path)
        seconds = (time.perf_counter() - start) / rounds
        result[name] = {
            "bytes": path.stat().st_size,
            "passages": len(extraction.passages),
            "seconds": round(seconds, 4),
        }
        if name == "pdf":
            result[name].update(pages=extraction.pages, pages_per_s=round(extraction.pages / seconds, 1))
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=200, help="pages of the generated text PDF")
    ap.add_argument("--real-pages", type=int, default=60, help="real HTML pages timed, when found")
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/documents.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    began = time.perf_counter()
    result = {"benchmark": "documents", "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        result["readers"] = reader_speed(Path(tmp), args.pages)
    found = extractors()
    result["html_quality"] = quality(found)
    result["html_speed_real_pages"] = speed(found, real_pages(args.real_pages))
    result["targets"] = {"text_pdf_pages_per_s_min": 50}
    result["meets"] = {"text_pdf_pages_per_s": result["readers"]["pdf"]["pages_per_s"] >= 50}
    result["seconds"] = round(time.perf_counter() - began, 1)
    print(to_json(result))
    if args.save:
        log.info("saved %s", save_result(result, "documents"))


if __name__ == "__main__":
    main()
