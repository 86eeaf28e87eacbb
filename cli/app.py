"""The `searchengine` command: parse, call the library, print. Nothing heavy is imported at start-up."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

import typer

from searchengine.config import cache_dir, default_index_dir
from searchengine.encoders.registry import DEFAULT_MODEL
from searchengine.errors import SearchEngineError, UsageError
from searchengine.ingest.settings import default_workers
from searchengine.kinds import KINDS

from .wording import CLI

app = typer.Typer(
    name="searchengine",
    help="Local, offline, cross-modal semantic search over photos, documents and recordings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Measure retrieval quality and speed.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _one_of(*values: str):
    """Shell completion for an option that takes one of `values`."""
    return lambda incomplete: [v for v in values if v.startswith(incomplete)]


KIND_NAMES = tuple(KINDS)
IndexOption = typer.Option(None, "--index", help="The index folder.", show_default="$SEARCHENGINE_HOME/default")
JsonOption = typer.Option(False, "--json", help="Machine-readable output on stdout.")
BackendOption = typer.Option(
    "auto",
    "--backend",
    envvar="SEARCHENGINE_BACKEND",
    autocompletion=_one_of("auto", "onnx", "torch"),
    help="Runtime of the model: auto (ONNX Runtime on the CPU, PyTorch on a GPU) | onnx | torch.",
)


def _index_dir(index: Path | None) -> Path:
    return (index or default_index_dir()).expanduser()


def reports_errors(command):
    """Turn the library's typed errors into one line on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BrokenPipeError:  # the reader of stdout went away (| head): end quietly
            from .pipes import CLOSED_PIPE, silence_stdout

            silence_stdout()
            raise typer.Exit(CLOSED_PIPE) from None
        except SearchEngineError as exc:
            _fail(exc.render(CLI), exc.exit_code)
        except OSError as exc:  # disk full, permission denied: nothing committed is lost
            where = f" ({exc.filename})" if exc.filename else ""
            _fail(
                f"{exc.strerror or exc}{where}: the index keeps its last committed state; "
                "free space or fix permissions and run the command again",
                1,
            )

    return wrapper


def _fail(message: str, code: int):
    from .output import stderr

    stderr.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code) from None


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"searchengine {version('searchengine')}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        metavar="",
        help="Say more on stderr: -v what you can act on (model and runtime, timings, every file skipped and why), -vv everything, other libraries' lines included.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    from .logs import configure

    configure(verbose)


@app.command()
@reports_errors
def index(
    folder: Path | None = typer.Argument(
        None,
        help="Folder of photos, texts and documents, recordings and videos to index (recursively).",
        show_default="every folder the index holds",
    ),
    index: Path | None = IndexOption,
    model: str = typer.Option(
        DEFAULT_MODEL, "--model", help="Encoder: bundled, or clip:ARCH/PRETRAINED, clip:ARCH@/path/weights.pt."
    ),
    device: str = typer.Option(
        "auto", "--device", help="auto | cpu | cuda.", autocompletion=_one_of("auto", "cpu", "cuda")
    ),
    backend: str = BackendOption,
    workers: int = typer.Option(default_workers(), "--workers", min=1, help="Parallel decoding threads."),
    index_type: str = typer.Option(
        "auto",
        "--index-type",
        help="auto | flat | hnsw | ivf | ivfpq (compressed, re-ranked exactly).",
        autocompletion=_one_of("auto", "flat", "hnsw", "ivf", "ivfpq"),
    ),
    max_memory: str | None = typer.Option(
        None,
        "--max-memory",
        help="Memory the vector index may use, e.g. 8G; auto picks the index that fits (kept for later runs).",
        show_default="half the RAM",
    ),
    asr_model: str | None = typer.Option(
        None,
        "--asr-model",
        help="Speech model: a faster-whisper size name (online) or a local model folder.",
        show_default="bundled Whisper base",
    ),
    language: str | None = typer.Option(
        None, "--language", help="Language of the recordings (en, de, …).", show_default="detected"
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Leave out files matching this gitignore-style pattern (repeatable)."
    ),
    follow_outside_links: bool = typer.Option(
        False,
        "--follow-outside-links",
        help="Index files that symlinks lead to outside FOLDER (and the index's other folders); by default they are skipped, with the reason.",
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local (in this process) | ray (Ray Data: decode tasks, embedding actors; needs searchengine\\[scale]).",
        autocompletion=_one_of("local", "ray"),
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="With --engine ray: the Ray cluster (auto, ray://HEAD:10001).",
        show_default="$RAY_ADDRESS, else Ray started here",
    ),
    no_ocr: bool = typer.Option(
        False, "--no-ocr", help="Do not read the text in pictures and scanned PDF pages (OCR is on by default)."
    ),
    ocr_video: bool = typer.Option(False, "--ocr-video", help="Also read the text in video keyframes (slower)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = JsonOption,
) -> None:
    """Index FOLDER: new and changed files are embedded, moved ones kept, deleted ones dropped.

    Without FOLDER, every folder the index holds is brought up to date."""
    from searchengine.api import Index
    from searchengine.distributed import ENGINES
    from searchengine.vectors.choice import parse_size

    from .output import stderr
    from .progress import BarProgress
    from .report import folders_to_sync, show_summary

    options = dict(
        workers=workers,
        index_type=index_type,
        asr_model=asr_model,
        language=language,
        max_memory=None if max_memory is None else parse_size(max_memory),
        ocr=not no_ocr,
        ocr_video=ocr_video,
    )
    if engine not in ENGINES:
        raise UsageError("unknown {-engine=$engine}: use one of {choices}", engine=engine, choices=", ".join(ENGINES))
    if address is not None and engine != "ray":
        raise UsageError("--address names a Ray cluster: use it with --engine ray")
    with Index.open(_index_dir(index), model, device=device, backend=backend) as ix:
        folders, unreachable = folders_to_sync(folder, ix)
        for root in folders:
            executor = None
            if engine == "ray":
                from searchengine.distributed.executor import RayExecutor

                executor = RayExecutor(address)
            with BarProgress(quiet=quiet) as progress:
                summary = ix.sync(
                    root,
                    progress,
                    exclude=exclude,
                    follow_outside_links=follow_outside_links,
                    executor=executor,
                    **options,
                )
            show_summary(summary, root, as_json, name_the_folder=folder is None)
    for root in unreachable:
        stderr.print(
            f"note: {root} cannot be reached now: not brought up to date (its files stay in the index)",
            highlight=False,
            markup=False,
        )
    if unreachable:
        raise typer.Exit(1)


@app.command()
@reports_errors
def search(
    ctx: typer.Context,
    text: str | None = typer.Argument(None, help="What to look for, in words."),
    image: str | None = typer.Option(
        None,
        "--image",
        help="Search with an image: a file, or an http(s) URL (fetched, up to 50 MB). Combined with the words if both are given.",
    ),
    like: int | None = typer.Option(None, "--like", help="More like this: a segment_id from an earlier search --json."),
    negative: list[str] = typer.Option([], "--not", help="Push results away from these words (repeatable)."),
    image_weight: float = typer.Option(1.0, "--image-weight", help="Weight of --image against the words."),
    queries: Path | None = typer.Option(
        None, "--queries", help="File of queries, one a line (text, or image:PATH); JSON lines out."
    ),
    index: Path | None = IndexOption,
    kind: str = typer.Option(
        "any",
        "--type",
        help="any | image | text | audio | video.",
        autocompletion=_one_of("any", "image", "text", "audio", "video"),
    ),
    k: int = typer.Option(10, "-k", min=1, help="Number of results."),
    min_score: float | None = typer.Option(
        None,
        "--min-score",
        help="Leave out hits whose calibrated score (standard deviations above chance) is below this. Off by default: the k best are listed, each with its confidence.",
    ),
    no_cutoff: bool = typer.Option(
        False,
        "--no-cutoff",
        hidden=True,
        help="The default now (kept for old scripts): the k best whatever their score.",
    ),
    per_kind: int | None = typer.Option(None, "--per-kind", min=1, help="At most N results of each kind."),
    path_glob: str | None = typer.Option(
        None,
        "--glob",
        help="Only files whose path matches, in any case: a pattern without / matches the file name ('*.jpg'), one with / the end of the path ('holidays/*').",
    ),
    glob_case: bool = typer.Option(
        False, "--glob-case", help="Make --glob tell upper from lower case ('*.JPG' then misses cat.jpg)."
    ),
    after: datetime | None = typer.Option(
        None,
        "--after",
        formats=["%Y-%m-%d"],
        help="Only files dated on or after this day (YYYY-MM-DD): a photo's EXIF capture date where it has one, else the file's modification time.",
    ),
    before: datetime | None = typer.Option(
        None,
        "--before",
        formats=["%Y-%m-%d"],
        help="Only files dated before this day (YYYY-MM-DD), dated as for --after.",
    ),
    segments: bool = typer.Option(False, "--segments", help="List every matching segment, not one per file."),
    lexical_only: bool = typer.Option(
        False, "--lexical-only", help="Search the words only (codes, names, phrases as typed), not the meaning."
    ),
    semantic_only: bool = typer.Option(
        False, "--semantic-only", help="Search by meaning only, as before the word index (for comparing)."
    ),
    paths_only: bool = typer.Option(
        False, "--paths-only", "-f", help="Print only the absolute paths, one a line (for xargs)."
    ),
    preview: bool = typer.Option(
        False,
        "--preview",
        "-p",
        help="Show thumbnails of image hits, in terminals with an image protocol (kitty, iTerm2, sixel); nothing elsewhere.",
    ),
    open_best: bool = typer.Option(False, "--open", help="Open the best hit with the desktop's default application."),
    device: str = typer.Option(
        "auto", "--device", help="auto | cpu | cuda.", autocompletion=_one_of("auto", "cpu", "cuda")
    ),
    backend: str = BackendOption,
    as_json: bool = JsonOption,
) -> None:
    """Search the index with words, an image, both, or a file of queries.

    Words are matched by meaning and as typed: "quoted words" must occur in the text or the file
    name, name:STEM in the file name, path:WORD in the path.

    Exits 1 when nothing is found (as grep does), except with --json."""
    from contextlib import ExitStack

    from .coldstart import Preload

    # The model loads in a thread while the modules below are imported (a cold query's two costs):
    # the load the launcher started (launch.py), or one of our own.
    preload = ctx.obj if isinstance(ctx.obj, Preload) else None
    loading = preload.claim(_index_dir(index), device, backend) if preload else None
    own = None
    if loading is None and ((text and text.strip()) or image or like is not None or queries):
        own = Preload(_index_dir(index), device, backend, texts=bool(text), quick_start=queries is None)
        loading = own.future

    def settle() -> None:  # never exit while a loader thread is inside native code (it aborts)
        if own is not None:
            own.settle()

    held = ExitStack()  # a query image fetched from a URL, removed at the end
    try:
        from searchengine.api import Index
        from searchengine.query import Filters, Query

        from .fetch import query_image
        from .output import json_line

        if queries is not None and (text is not None or image is not None or like is not None):
            raise UsageError("--queries runs the queries in its file: give no other query with it")
        if like is not None and not 0 < like < 2**63:
            raise UsageError(f"--like {like} is not a segment_id: use one from search --json")
        if paths_only and (as_json or queries is not None):
            raise UsageError("--paths-only prints paths, --json and --queries JSON: give one of them")
        options = dict(
            kind=kind,
            glob=path_glob,
            glob_case=glob_case,
            after=after,
            before=before,
            per_kind=per_kind,
            min_score=None if no_cutoff else min_score,
            k=k,
            segments=segments,
            lexical_only=lexical_only,
            semantic_only=semantic_only,
        )
        Filters(kind=kind, per_kind=per_kind)  # bad options, before any query runs
        if queries is not None:
            batch = _read_queries(queries)
        else:
            image_path = held.enter_context(query_image(image))
            batch = [Query(text=text, image=image_path, like=like, negative=tuple(negative), image_weight=image_weight)]
        refused = _validate(batch, one_by_one=queries is not None)  # bad input, before waiting for any model
        ix = Index.open(_index_dir(index), create=False, device=device, backend=backend, encoder=loading)
    except BaseException:
        held.close()
        settle()
        raise
    try:
        if queries is not None:
            for query in batch:  # a bad line gets its error in its own line; the others their hits
                try:
                    if query in refused:
                        raise refused[query]
                    hits = ix.search(query, **options)
                except UsageError as exc:
                    refused[query] = exc
                    json_line({"query": query.describe(), "error": exc.render(CLI), "hits": []})
                    continue
                json_line({"query": query.describe(), "hits": [h.as_json() for h in hits]})
            if refused:
                raise UsageError(f'{len(refused)} of the {len(batch)} queries in {queries} failed: see their "error"')
        else:
            from .results import show_results

            show_results(
                ix, batch[0], options, as_json=as_json, paths_only=paths_only, preview=preview, open_best=open_best
            )
    finally:
        ix.close()
        held.close()
        settle()


@app.command("open")
@reports_errors
def open_result(
    rank: int = typer.Argument(1, min=1, help="The rank of a result of the last search."),
) -> None:
    """Open a result of the last search with the desktop's default application."""
    from .opener import open_file, remembered

    open_file(remembered(rank))


def _validate(batch, one_by_one: bool) -> dict:
    """Refuse a bad query at once; with one_by_one (a file of queries), collect {query: error} instead."""
    refused = {}
    for query in batch:
        try:
            query.validate()
        except UsageError as exc:
            if not one_by_one:
                raise
            refused[query] = exc
    return refused


def _read_queries(path: Path):
    from searchengine.query import Query

    try:
        lines = path.expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read queries file {path}: {exc}") from exc
    return [Query.parse_line(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


@app.command()
@reports_errors
def status(
    index: Path | None = IndexOption,
    errors: bool = typer.Option(
        False, "--errors", help="List the files that failed, were skipped or indexed in part, and why."
    ),
    as_json: bool = JsonOption,
) -> None:
    """What an index holds: counts by kind, model, index type, size on disk."""
    from searchengine.api import Index

    from .output import human_bytes, json_line, stdout
    from .report import plural

    with Index.open(_index_dir(index), create=False) as ix:
        info = ix.status(errors=errors)
    if as_json:
        json_line(info, indent=2)
        return
    counts = info["counts"]
    unsupported = info.get("unsupported") or {}
    stdout.print(f"index      {info['index']}", highlight=False)
    stdout.print(f"model      {info['model']} ({info['encoder_id']}, {info['dim']}-d)", highlight=False)
    stdout.print(f"vectors    {info['vectors']} in a {info['index_type']} index", highlight=False)
    stdout.print(
        f"files      {counts['items']} indexed, {counts['failed']} failed, {counts['skipped']} skipped"
        + (f", {counts['indexed_in_part']} indexed in part" if counts["indexed_in_part"] else ""),
        highlight=False,
    )
    for kind, c in counts["by_kind"].items():
        stdout.print(f"  {kind:8} {plural(c['items'], 'file')}, {plural(c['segments'], 'segment')}", highlight=False)
    if unsupported:
        stdout.print(
            f"  {'skipped':8} {plural(sum(unsupported.values()), 'file')} of a type not indexed: "
            + ", ".join(f"{ext} {n}" for ext, n in unsupported.items()),
            highlight=False,
            markup=False,
        )
    stdout.print(f"on disk    {human_bytes(info['size_bytes'])}", highlight=False)
    if info.get("last_run"):
        run = info["last_run"]
        stdout.print(f"last run   {run['finished_at'] or 'unfinished'} ({run['root']})", highlight=False)
    for err in info.get("errors", []):
        stdout.print(f"  failed: {err['reason']}", highlight=False, markup=False)
    for entry in info.get("skipped", []):
        stdout.print(f"  skipped: {entry['reason']}", highlight=False, markup=False)
    for entry in info.get("notes", []):
        stdout.print(f"  in part: {entry['path']}: {entry['note']}", highlight=False, markup=False)


@app.command()
@reports_errors
def transcript(
    file: Path = typer.Argument(..., help="An indexed recording."),
    index: Path | None = IndexOption,
    fmt: str = typer.Option("text", "--format", help="text | srt | vtt.", autocompletion=_one_of("text", "srt", "vtt")),
) -> None:
    """Print the stored transcript of an indexed recording, with timestamps."""
    from searchengine.api import Index

    from .subtitles import FORMATS, render

    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    path = file.expanduser().absolute()
    with Index.open(_index_dir(index), create=False) as ix:
        segments = ix.segments_of(path)
    if segments is None:
        raise UsageError(f"{path} is not in the index: run `searchengine index` on its folder first")
    if segments and segments[0].kind not in ("audio", "video"):
        raise UsageError(f"{path} is not a recording (it is indexed as {segments[0].kind})")
    typer.echo(render(segments, fmt), nl=False)


@app.command()
@reports_errors
def tags(
    file: Path = typer.Argument(..., help="An image."),
    k: int = typer.Option(5, "-k", min=1, help="Number of labels."),
    device: str = typer.Option(
        "cpu", "--device", help="auto | cpu | cuda.", autocompletion=_one_of("auto", "cpu", "cuda")
    ),
    as_json: bool = JsonOption,
) -> None:
    """The most likely labels for an image, from the bundled model's ImageNet label space."""
    from searchengine.encoders.bundled.tags import image_tags
    from searchengine.errors import DecodeError, QueryError

    from .output import json_line, stdout

    if not file.is_file():
        raise QueryError(f"{file} does not exist")
    try:
        labels = image_tags(file, cache_dir(), k=k, device=device)
    except DecodeError as exc:
        raise QueryError(f"not a readable image: {exc}") from exc
    if as_json:
        json_line([{"label": label, "probability": round(p, 4)} for label, p in labels])
        return
    for label, p in labels:
        stdout.print(f"{p:6.1%}  {label}", highlight=False)


@app.command()
@reports_errors
def duplicates(
    index: Path | None = IndexOption,
    kind: str = typer.Option(
        "any", "--kind", help="any | image | text | audio | video.", autocompletion=_one_of("any", *KIND_NAMES)
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="How alike near-duplicates must be, 0-1 (1: identical). Lower also groups burst shots and look-alikes.",
        show_default="measured per kind: photos 0.75, texts 0.8",
    ),
    exact: bool = typer.Option(False, "--exact", help="Only files with the same content."),
    as_json: bool = JsonOption,
) -> None:
    """Groups of duplicate files (copies, resized, re-encoded, cropped, edited photos; near-identical
    texts), largest first, from what the index stores. Names the one to keep; deletes nothing."""
    from searchengine.api import Index

    from .output import human_bytes, json_line, stdout
    from .report import plural

    with Index.open(_index_dir(index), create=False) as ix:
        groups = ix.duplicates(kind=kind, threshold=threshold, near=not exact)
    if as_json:
        json_line([g.as_json() for g in groups], indent=2)
        return
    if not groups:
        stdout.print("no duplicates found", highlight=False)
        return
    for number, group in enumerate(groups, 1):
        shown = group.as_json()
        shared = group.passage is not None  # files that hold one passage, not copies of each other
        if shared:
            head = f"group {number}: {plural(len(group.files), group.kind + ' file')} share a passage: {group.passage}"
        else:
            head = f"group {number}: {plural(len(group.files), group.kind + ' file')}, {group.match}" + (
                "" if group.match == "exact" else f" (similarity {group.similarity:.2f})"
            )
        stdout.print(head, highlight=False, markup=False)
        for file, entry in zip(group.files, shown["files"], strict=True):
            size = f"{file.width}×{file.height}" if file.width else ""
            mark = "keep" if file.path == group.keep and not shared else "    "
            stdout.print(
                f"  {mark} {human_bytes(file.size):>9} {size:>11} {entry['date'][:10]}  {entry['path']}",
                highlight=False,
                markup=False,
            )
    redundant = sum(len(g.files) - 1 for g in groups if g.passage is None)
    stdout.print(
        f"{plural(len(groups), 'group')}, {plural(redundant, 'file')} beside the ones to keep", highlight=False
    )


@app.command()
@reports_errors
def watch(
    folders: list[Path] | None = typer.Argument(
        None, help="Folders to watch (recursively).", show_default="every folder the index holds"
    ),
    index: Path | None = IndexOption,
    workers: int = typer.Option(default_workers(), "--workers", min=1, help="Files decoded in parallel."),
    debounce: float = typer.Option(0.5, "--debounce", min=0.0, help="Seconds of quiet that end a burst of changes."),
) -> None:
    """Keep the index current as files are added, changed, renamed or deleted (Ctrl-C stops).
    Catches up first with what changed while it was not running."""
    from searchengine.api import Index
    from searchengine.watch import Watcher

    from .output import stderr

    report = _watch_report()
    with Index.open(_index_dir(index)) as ix:
        chosen = [f.expanduser().absolute() for f in folders or []] or [Path(r) for r in ix.roots()]
        if not chosen:
            raise UsageError("nothing to watch: give a folder (searchengine watch FOLDER)")
        missing = [str(f) for f in chosen if not f.is_dir()]
        if missing:
            raise UsageError(f"not a folder: {missing[0]}")
        watcher = Watcher(ix, chosen, debounce=debounce, report=report, workers=workers)
        shown = ", ".join(str(f) for f in chosen)
        stderr.print(f"watching {shown} into {ix.path} (Ctrl-C stops)", highlight=False, markup=False)
        import signal

        def first_interrupt(signum, frame) -> None:  # a run in progress finishes; a second Ctrl-C cuts it
            watcher.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)

        signal.signal(signal.SIGINT, first_interrupt)
        try:
            watcher.run()
        except KeyboardInterrupt:
            watcher.stop()
        stderr.print("stopped; everything applied so far is kept", highlight=False, markup=False)


@app.command()
@reports_errors
def verify(
    index: Path | None = IndexOption,
    as_json: bool = JsonOption,
) -> None:
    """Check that the catalog, the vector index and the files on disk agree. Exits 1 if they do not."""
    from searchengine.api import Index

    with Index.open(_index_dir(index), create=False) as ix:
        _print_report(ix.verify(), as_json)


@app.command()
@reports_errors
def repair(
    index: Path | None = IndexOption,
    as_json: bool = JsonOption,
) -> None:
    """Fix what verify finds: salvage the catalog, rewrite the manifest, rebuild vectors, re-index what was lost."""
    from searchengine.api import Index

    with Index.open(_index_dir(index), create=False) as ix:
        _print_report(ix.repair(), as_json)


def _print_report(report, as_json: bool) -> None:
    from .output import json_line, stdout

    if as_json:
        json_line(report.as_dict(), indent=2)
    else:
        for line in report.repaired:
            stdout.print(f"repaired: {line}", highlight=False, markup=False)
        for line in report.problems:
            stdout.print(f"problem: {line}", highlight=False, markup=False)
        if report.missing_files:
            stdout.print(
                f"{len(report.missing_files)} indexed files are gone from disk (run index or repair)", highlight=False
            )
        if report.changed_files:
            stdout.print(
                f"{len(report.changed_files)} indexed files changed on disk since (run index or repair)",
                highlight=False,
            )
        for root in report.unreachable_roots:
            stdout.print(
                f"indexed folder {root} cannot be reached now: its files were not checked",
                highlight=False,
                markup=False,
            )
        stdout.print("ok" if report.ok else "NOT ok", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@bench_app.command("recall")
@reports_errors
def bench_recall(
    dataset: Path = typer.Argument(
        ..., help="A folder holding pairs.jsonl: one JSON line per image, with its captions (see benchmarks/README.md)."
    ),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Encoder to measure."),
    device: str = typer.Option(
        "auto", "--device", help="auto | cpu | cuda.", autocompletion=_one_of("auto", "cpu", "cuda")
    ),
    split: str | None = typer.Option(
        None, "--split", help="Read SPLIT.jsonl (train | val | test) instead of pairs.jsonl."
    ),
    audio: bool = typer.Option(False, "--audio", help="Also query with the spoken captions, transcribed (a2i)."),
    index_type: str = typer.Option(
        "auto",
        "--index-type",
        help="Vector index to measure: auto | flat | hnsw | ivf | ivfpq.",
        autocompletion=_one_of("auto", "flat", "hnsw", "ivf", "ivfpq"),
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = JsonOption,
) -> None:
    """Text→image and image→text recall@1/5/10 on a captioned dataset."""
    from searchengine.eval.recall import run_recall

    from .output import json_line, stdout
    from .progress import BarProgress

    with BarProgress(quiet=quiet) as progress:
        result = run_recall(
            dataset, model=model, device=device, split=split, audio=audio, index_type=index_type, progress=progress
        )
    if as_json:
        json_line(result)
        return
    stdout.print(
        f"{result['model']}: {result['n_images']} images, {result['n_captions']} captions, {result['seconds']:.1f} s"
    )
    ann = result["ann"]
    rows = [(d, result[d], ann[d], result["chance"][d]) for d in ("t2i", "i2t")]
    if "a2i" in result:
        rows.append(("a2i", result["a2i"], result["a2i"]["ann"], result["a2i"]["chance"]))
    for direction, exact, searched, chance in rows:
        stdout.print(
            f"  {direction}  exact R@1 {exact['R@1']:.3f}  R@5 {exact['R@5']:.3f}  R@10 {exact['R@10']:.3f}"
            f"   {ann['index_type']} index R@10 {searched['R@10']:.3f}   chance R@10 {chance['R@10']:.3f}"
        )
    stdout.print(
        "  recall falls as the gallery grows: compare runs over the same images and captions only", highlight=False
    )


@app.command()
@reports_errors
def serve(
    index: Path | None = IndexOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; the default keeps it on this machine."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    device: str = typer.Option(
        "auto", "--device", help="auto | cpu | cuda.", autocompletion=_one_of("auto", "cpu", "cuda")
    ),
    watch: bool = typer.Option(False, "--watch", help="Keep the index current with its folders while serving."),
) -> None:
    """Serve the search page and HTTP API for an index (open http://HOST:PORT in a browser)."""
    try:
        import uvicorn

        from searchengine.server import allowed_hosts_for, create_app
    except ImportError as exc:
        raise UsageError(
            f"the web app needs the serve extra ({exc.name} is missing): pip install 'searchengine[serve]'"
        ) from None
    from .output import stderr

    web = create_app(_index_dir(index), device=device, allowed_hosts=allowed_hosts_for(host))
    watcher = _start_watching(web.state.library.index) if watch else None
    shown = f"[{host}]" if ":" in host else host
    stderr.print(
        f"serving {web.state.library.index_dir} at http://{shown}:{port}/ (API docs at /docs; Ctrl-C stops)",
        highlight=False,
        markup=False,
    )
    try:
        uvicorn.run(web, host=host, port=port, log_level="warning")
    finally:
        if watcher is not None:
            watcher.stop()


def _watch_report():
    """A line on stderr for each run a watcher makes."""
    from searchengine.watch import describe

    from .output import stderr

    def render(exc: Exception) -> str:
        return exc.render(CLI) if isinstance(exc, SearchEngineError) else str(exc)

    def report(event) -> None:
        stderr.print(f"{datetime.now():%H:%M:%S} {describe(event, render)}", highlight=False, markup=False)

    return report


def _start_watching(served):
    """A Watcher over the served index's folders, in a thread, sharing the server's encoder."""
    import threading

    from searchengine.api import Index
    from searchengine.watch import Watcher

    from .output import stderr

    report = _watch_report()
    folders = [Path(r) for r in served.roots() if Path(r).is_dir()]
    if not folders:
        raise UsageError("--watch: the index holds no folder that can be reached now")
    writer = Index.open(served.path, create=False, encoder=served.encoder, cache_dir=served.cache_dir)
    watcher = Watcher(writer, folders, report=report)
    threading.Thread(target=watcher.run, name="watch", daemon=True).start()
    stderr.print(f"watching {', '.join(map(str, folders))}", highlight=False, markup=False)
    return watcher


def main(preload=None) -> None:
    """Run the command line; `preload`: the launcher's early encoder load (coldstart.Preload).

    A mistake on the command line (an unknown option, a value out of range) is one line on stderr
    that names the command's help, like the library's errors, not click's framed box; exit 2."""
    usage_error, click_error, no_args_is_help = _parse_errors()
    try:
        code = app(obj=preload, prog_name="searchengine", standalone_mode=False)
    except no_args_is_help as exc:  # a bare group: its help, printed already
        raise SystemExit(exc.exit_code) from None
    except usage_error as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "searchengine"
        _stderr_line(f"{exc.format_message().rstrip('.')} (see '{command} --help')")
        raise SystemExit(exc.exit_code) from None
    except click_error as exc:
        _stderr_line(exc.format_message())
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:  # Ctrl-C at a prompt
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _parse_errors() -> tuple[type, type, type]:
    """(UsageError, ClickException, NoArgsIsHelpError) of the click Typer runs on: its own copy from
    Typer 0.28, the click package before."""
    import sys

    ancestors = typer.BadParameter.__mro__
    usage_error = next(c for c in ancestors if c.__name__ == "UsageError")
    click_error = next(c for c in ancestors if c.__name__ == "ClickException")
    no_args_is_help = getattr(sys.modules[usage_error.__module__], "NoArgsIsHelpError", None)
    return usage_error, click_error, no_args_is_help or type("NeverRaised", (Exception,), {})


def _stderr_line(message: str) -> None:
    from .output import stderr

    stderr.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
