"""Readers turn a corpus's cached files into records (lists of dicts).

Each reader is a plain function ``reader(root, manifest, split) -> list[dict]`` registered by
name in ``READERS``; a manifest names its reader. Readers parse the files themselves: textkit
never imports the packages the data ships in (several pin old numpy or matplotlib).
"""

from __future__ import annotations

import bz2
import functools
import csv
import hashlib
import json
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from textkit.data.registry import Manifest

Record = dict
Reader = Callable[[Path, Manifest, "str | None"], list[Record]]


def _check_split(manifest: Manifest, split: str | None) -> None:
    if split is not None and split not in manifest.splits:
        raise ValueError(
            f"corpus {manifest.name!r} has no split {split!r}; its splits are {list(manifest.splits)} "
            "(or pass split=None for all records)"
        )


def decode_robustly(raw: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (BOM allowed), else as Windows-1252, else Latin-1.

    Returns ``(text, encoding)``. Windows-1252 is tried second because it is what legacy
    English text almost always is (``0xa3`` is "£" in both it and Latin-1); Latin-1 can decode
    any byte, so nothing is ever dropped or replaced.
    """
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding), encoding.removesuffix("-sig")
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


# --- rotten-tomatoes --------------------------------------------------------------------------


def read_rotten_tomatoes(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """Review snippets labelled fresh/rotten. The ``plot`` rows are movie synopses, not
    reviews, and are dropped. Exact duplicate snippets are kept (the corpus as published);
    ``reproduce sentiment`` groups them into the same fold so none leaks across folds."""
    _check_split(manifest, split)
    with bz2.open(root / "rotten_tomatoes_corpus_full.csv.bz2", "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {"text": row["text"], "label": row["category"], "movie": row["movie_name"]}
        for row in rows
        if row["category"] != "plot"
    ]


# --- bbc-news ---------------------------------------------------------------------------------


def read_bbc_news(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """2,225 BBC articles in 5 categories. The first line of each file is the headline.
    One file (sport/199.txt) is Windows-1252, not UTF-8; ``encoding`` says which was used."""
    _check_split(manifest, split)
    records = []
    for path in sorted(root.glob("*/*.txt")):
        text, encoding = decode_robustly(path.read_bytes())
        records.append(
            {
                "text": text.strip(),
                "label": path.parent.name,
                "title": text.strip().split("\n", 1)[0].strip(),
                "file": f"{path.parent.name}/{path.name}",
                "encoding": encoding,
            }
        )
    return records


# --- brown ------------------------------------------------------------------------------------

_BROWN_QUOTES = {"``": '"', "''": '"'}


def read_brown(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """The 500 tagged Brown files. ``text`` has the tags stripped (one sentence per line,
    tokens joined by spaces, ``\\`\\``/``''`` shown as ``"``); ``tokens`` and ``tags`` keep
    the original tagging. ``split`` may be a genre name from ``cats.txt``."""
    genres = {}
    for line in (root / "cats.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            file_id, genre = line.split()
            genres[file_id] = genre
    if split is not None and split not in manifest.splits and split not in set(genres.values()):
        raise ValueError(f"brown has no split {split!r}; use None or a genre: {sorted(set(genres.values()))}")
    records = []
    for file_id, genre in genres.items():
        if split not in (None, "all", genre):
            continue
        sentences, tokens, tags = [], [], []
        for line in (root / file_id).read_text(encoding="utf-8").splitlines():
            pairs = [item.rsplit("/", 1) for item in line.split()]
            if not pairs:
                continue
            words = [p[0] for p in pairs]
            tokens.extend(words)
            tags.extend(p[1] if len(p) == 2 else "" for p in pairs)
            sentences.append(" ".join(_BROWN_QUOTES.get(w, w) for w in words))
        records.append({"text": "\n".join(sentences), "tokens": tokens, "tags": tags, "file": file_id, "genre": genre})
    return records


# --- Bibles (SWORD modules) -------------------------------------------------------------------

_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def clean_osis(markup: str) -> str:
    """Strip OSIS markup from a verse. Footnotes are removed with their text and leave a
    space (pysword's own cleaner glues the words around them: "Godcreated")."""
    text = _NOTE.sub(" ", markup)
    text = _TAG.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    return re.sub(r" ([,.;:!?])", r"\1", text)


def _parse_bible_module(root: Path, module: str) -> list[tuple]:
    from pysword.modules import SwordModules

    modules = SwordModules(str(root))
    modules.parse_modules()
    bible = modules.get_bible_from_module(module)
    # pysword decompresses a whole compressed block (often a whole book) for every verse it
    # returns: ~30 s a Bible. Memoizing the block on this one instance makes it ~1 s; the
    # decompressed bytes are identical, so the verses are too.
    if hasattr(bible, "_decompressed_text"):
        bible._decompressed_text = functools.lru_cache(maxsize=2)(bible._decompressed_text)
    verses = []
    for testament, books in bible.get_structure().get_books().items():
        for book in books:
            for chapter, n_verses in enumerate(book.chapter_lengths, start=1):
                for verse in range(1, n_verses + 1):
                    texts = list(bible.get_iter(books=book.name, chapters=chapter, verses=verse, clean=False))
                    verses.append((testament, book.name, chapter, verse, clean_osis(texts[0]) if texts else ""))
    return verses


def iter_bible_verses(root: Path, module: str):
    """Yield (testament, book, chapter, verse, text) for every verse slot of a SWORD module."""
    yield from _parse_bible_module(root, module)


def read_bible(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """Verse records. Empty verses (verses the translation leaves out, such as KJV
    versification slots absent from a text) are kept with ``text == ""`` so that the
    versification stays complete; ``textkit.data.load`` callers can filter them."""
    _check_split(manifest, split)
    module = manifest.options["module"]
    return [
        {"text": text, "testament": testament, "book": book, "chapter": chapter, "verse": verse}
        for testament, book, chapter, verse, text in iter_bible_verses(root, module)
    ]


def parallel_split(book: str, chapter: int) -> str:
    """Deterministic, leak-free split of a whole chapter: about 3% test, 3% valid, 94% train."""
    bucket = int(hashlib.sha256(f"{book}|{chapter}".encode()).hexdigest(), 16) % 100
    return "test" if bucket < 3 else "valid" if bucket < 6 else "train"


def read_bible_parallel(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """Verse-aligned source/target pairs from two modules sharing KJV versification. Pairs where
    either side is empty are dropped; ``textkit corpora info`` reports how many."""
    _check_split(manifest, split)
    source = manifest.options["source_module"]
    target = manifest.options["target_module"]
    src_verses = {(b, c, v): t for _, b, c, v, t in iter_bible_verses(root, source)}
    records = []
    for _, book, chapter, verse, target_text in iter_bible_verses(root, target):
        source_text = src_verses.get((book, chapter, verse), "")
        if not source_text or not target_text:
            continue
        part = parallel_split(book, chapter)
        if split is None or split == part:
            records.append(
                {"source": source_text, "target": target_text, "book": book, "chapter": chapter, "verse": verse, "split": part}
            )
    return records


# --- files-only corpora (embeddings, word lists) ----------------------------------------------


def read_files(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    _check_split(manifest, split)
    return [{"file": rel, "path": str(root / rel)} for rel in sorted(manifest.files)]


# --- standard benchmark formats (users bring them or fetch them with internet) -----------------


def read_imdb(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """``aclImdb/{train,test}/{pos,neg,unsup}/<id>_<rating>.txt``. Unsup reviews have label None."""
    _check_split(manifest, split)
    base = root / "aclImdb" if (root / "aclImdb").is_dir() else root
    if not (base / "train").is_dir() and not (base / "test").is_dir():
        raise FileNotFoundError(f"{root} does not look like aclImdb: expected train/ and test/ folders")
    records = []
    for part in [split] if split else ["train", "test", "unsup"]:
        folder, labels = (base / "train", ("unsup",)) if part == "unsup" else (base / part, ("neg", "pos"))
        for label in labels:
            for path in sorted((folder / label).glob("*.txt"), key=lambda p: int(p.stem.split("_")[0])):
                rating = int(path.stem.split("_")[1])
                text, _ = decode_robustly(path.read_bytes())
                records.append(
                    {"text": text, "label": None if label == "unsup" else label, "rating": rating or None, "split": part}
                )
    return records


def read_newsgroups(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """20news-bydate: ``20news-bydate-{train,test}/<group>/<id>``; files are Latin-1."""
    _check_split(manifest, split)
    records = []
    for part in [split] if split else ["train", "test"]:
        folder = root / f"20news-bydate-{part}"
        if not folder.is_dir():
            raise FileNotFoundError(f"{root} lacks {folder.name}/ (the 20news-bydate layout)")
        for group in sorted(p for p in folder.iterdir() if p.is_dir()):
            for path in sorted(group.iterdir(), key=lambda p: (len(p.name), p.name)):
                text, _ = decode_robustly(path.read_bytes())
                records.append({"text": text, "label": group.name, "split": part, "id": path.name})
    return records


_WIKI_TITLE = re.compile(r"^ = ([^=].*[^=]) = $")


def read_wikitext(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """``wiki.{train,valid,test}.tokens``: one record per article, split at `` = Title = `` lines."""
    _check_split(manifest, split)
    records = []
    for part in [split] if split else ["train", "valid", "test"]:
        matches = sorted(root.rglob(f"wiki.{part}.tokens"))
        if not matches:
            raise FileNotFoundError(f"{root} lacks wiki.{part}.tokens")
        title, lines = None, []
        for line in matches[0].read_text(encoding="utf-8").splitlines():
            heading = _WIKI_TITLE.match(line)
            if heading:
                if title is not None or any(s.strip() for s in lines):
                    records.append({"text": "\n".join(lines).strip(), "title": title, "split": part})
                title, lines = heading.group(1), []
            else:
                lines.append(line)
        if title is not None or any(s.strip() for s in lines):
            records.append({"text": "\n".join(lines).strip(), "title": title, "split": part})
    return records


# The fast.ai NLP course's question filters: English questions start with "Wh"; French lines
# are any single question.
_EN_QUESTION = re.compile(r"^(Wh[^?.!]+\?)")
_FR_QUESTION = re.compile(r"^([^?.!]+\?)")


def read_giga_fren(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """French->English question pairs as in the course: from ``questions_easy.csv`` (columns
    en, fr) when present, else filtered from ``giga-fren.release2.fixed.{en,fr}``."""
    _check_split(manifest, split)
    csv_files = sorted(root.rglob("questions_easy.csv"))
    if csv_files:
        with open(csv_files[0], encoding="utf-8", newline="") as handle:
            return [{"source": row["fr"], "target": row["en"]} for row in csv.DictReader(handle)]
    en_files, fr_files = sorted(root.rglob("giga-fren.release2.fixed.en")), sorted(root.rglob("giga-fren.release2.fixed.fr"))
    if not en_files or not fr_files:
        raise FileNotFoundError(f"{root} lacks giga-fren.release2.fixed.en/.fr or questions_easy.csv")
    records = []
    with open(en_files[0], encoding="utf-8") as en, open(fr_files[0], encoding="utf-8") as fr:
        for en_line, fr_line in zip(en, fr, strict=False):
            en_match, fr_match = _EN_QUESTION.match(en_line), _FR_QUESTION.match(fr_line)
            if en_match and fr_match:
                records.append({"source": fr_match.group(1), "target": en_match.group(1)})
    return records


# --- SWORD commentaries (zCom4) ----------------------------------------------------------------


def iter_zcom_blocks(module_dir: Path):
    """Yield the decompressed text of every block of a zCom4 SWORD module (``ot``, then ``nt``).

    A ``*.czs`` index holds one (offset, compressed size, uncompressed size) triple of
    little-endian uint32 per block; ``*.czz`` holds the zlib streams they point at."""
    for testament in ("ot", "nt"):
        index_path, data_path = module_dir / f"{testament}.czs", module_dir / f"{testament}.czz"
        if not index_path.exists() or not data_path.exists():
            continue
        index, data = index_path.read_bytes(), data_path.read_bytes()
        if len(index) % 12:
            raise ValueError(f"{index_path}: size {len(index)} is not a multiple of 12; the module is damaged")
        for block, (offset, size, usize) in enumerate(struct.iter_unpack("<III", index)):
            raw = zlib.decompress(data[offset : offset + size])
            if len(raw) != usize:
                raise ValueError(f"{data_path}: block {block} inflates to {len(raw)} bytes, the index says {usize}")
            yield testament, block, raw.decode("utf-8")


def read_sword_commentary(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """One record per compressed block (a psalm, for the Treasury of David), markup stripped."""
    _check_split(manifest, split)
    records = []
    for testament, block, markup in iter_zcom_blocks(root / manifest.options["module_dir"]):
        text = clean_osis(markup)
        if text:
            records.append({"text": text, "file": f"{testament}/{block:04d}", "testament": testament, "block": block})
    return records


# --- State of the Union -----------------------------------------------------------------------


def read_sotu(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """One record per address: text, year, president, party, file."""
    _check_split(manifest, split)
    records = []
    for rel in sorted(manifest.files):
        path = root / rel
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); run `textkit corpora get {manifest.name} --force`") from exc
        records.append({"text": row["text"].strip(), "year": row["year"], "president": row["name"], "party": row["party"], "file": path.name})
    return records


# --- Wikipedia summaries ----------------------------------------------------------------------


def read_wiki_summaries(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """One record per article (title, text, language); ``split`` is a language code."""
    _check_split(manifest, split)
    records = []
    for language, name in manifest.options["files"].items():
        if split not in (None, language):
            continue
        articles = json.loads((root / name).read_text(encoding="utf-8"))
        for title, entry in articles.items():
            text = (entry.get("extract") or "").strip()
            if text:
                records.append({"text": text, "title": entry.get("title", title), "language": language, "file": title})
    return records


# --- composite corpora (a weighted mix of other corpora) ---------------------------------------


def mix_bucket(key: str) -> float:
    """A deterministic number in [0, 1) for a document key: splits and weights use it, so a
    document's split never depends on which other documents are in the mix."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12], 16) / 16**12


def read_composite(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """Documents of several corpora, split train/valid/test by document.

    Each part names a corpus, an optional corpus ``split``, the record fields that identify a
    document (``document``; records sharing them are joined with newlines, in order) and a
    ``weight`` in (0, 1]: the fraction of that part's documents kept (chosen by hash). One
    record per document: ``text``, ``source`` (the part's corpus), ``doc`` and ``split``."""
    from textkit.data import load

    _check_split(manifest, split)
    valid_fraction, test_fraction = manifest.options.get("held_out", [0.02, 0.02])
    records = []
    for part in manifest.options["parts"]:
        name, weight = part["corpus"], float(part.get("weight", 1.0))
        if not 0 < weight <= 1:
            raise ValueError(f"corpus manifest {manifest.path}: part {name!r} has weight {weight}; use a number in (0, 1]")
        fields = part["document"] if isinstance(part["document"], list) else [part["document"]]
        documents: dict[str, list[str]] = {}
        for record in load(name, split=part.get("split")):
            if record["text"].strip():
                key = f"{name}/" + "/".join(str(record[f]) for f in fields)
                documents.setdefault(key, []).append(record["text"])
        for key, texts in documents.items():
            if mix_bucket("weight|" + key) >= weight:
                continue
            bucket = mix_bucket("split|" + key)
            part_split = "test" if bucket < test_fraction else "valid" if bucket < test_fraction + valid_fraction else "train"
            if split in (None, part_split):
                records.append({"text": "\n".join(texts), "source": name, "doc": key, "split": part_split})
    return records


READERS: dict[str, Reader] = {
    "rotten_tomatoes": read_rotten_tomatoes,
    "bbc_news": read_bbc_news,
    "brown": read_brown,
    "bible": read_bible,
    "bible_parallel": read_bible_parallel,
    "files": read_files,
    "imdb": read_imdb,
    "newsgroups": read_newsgroups,
    "wikitext": read_wikitext,
    "giga_fren": read_giga_fren,
    "sword_commentary": read_sword_commentary,
    "sotu": read_sotu,
    "wiki_summaries": read_wiki_summaries,
    "composite": read_composite,
}
