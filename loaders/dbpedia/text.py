"""Title normalisation for entity linking: the forms a catalogue title takes versus a DBpedia label.

Catalogues write "Usual Suspects, The", "Seven (Se7en)", "Postino, Il"; DBpedia labels read
"The Usual Suspects", "Seven (1995 film)", "Il Postino: The Postman". :func:`title_variants` produces
the readable forms to look up; :func:`normalize` the comparison key; :func:`split_label` the
disambiguation suffix of a label and the year in it.
"""

from __future__ import annotations

import re
import unicodedata

#: Articles that catalogues move to the end ("Usual Suspects, The") in the languages of film titles.
ARTICLES = ("the", "a", "an", "il", "la", "le", "les", "l'", "lo", "gli", "i", "el", "los", "las", "der", "die",
            "das", "den", "det", "de", "het", "een", "un", "une", "uno", "una", "o", "os", "as")
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+?),\s*(?P<art>" + "|".join(re.escape(a) for a in ARTICLES)
                               + r")(?P<rest>\s*(?:[:(].*)?)$", re.IGNORECASE)
_YEAR_SUFFIX = re.compile(r"\s*\((?:\d{4})\)\s*$")
_PARENS = re.compile(r"\s*\(([^()]*)\)")
_DISAMBIG = re.compile(r"^(?P<base>.*?)\s*\((?P<tag>[^()]*)\)\s*$")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an|il|la|le|les|l|lo|gli|el|los|las|der|die|das)\s+", re.IGNORECASE)
#: Words that mean "this is a film/book/…" inside a disambiguation suffix.
KIND_WORDS = {
    "film": ("film", "movie", "documentary", "animated film"),
    "book": ("novel", "book", "novella", "short story", "play", "memoir", "poem", "series", "collection"),
}


def fold(text: str) -> str:
    """Lower case, accents removed, '&' read as 'and'."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("&", " and ").lower()


def normalize(text: str, drop_article: bool = False) -> str:
    """Comparison key: folded, punctuation dropped, spaces collapsed (and a leading article dropped if asked)."""
    key = " ".join(_WORD.findall(fold(text)))
    return _LEADING_ARTICLE.sub("", key).strip() if drop_article else key


def words(text: str) -> list[str]:
    """The words of ``text`` (letters and digits, accents kept), for free-text queries."""
    return _WORD.findall(text)


def move_article(title: str) -> str:
    """``"Usual Suspects, The"`` -> ``"The Usual Suspects"``; ``"Postino, Il"`` -> ``"Il Postino"``."""
    m = _TRAILING_ARTICLE.match(title.strip())
    if not m:
        return title.strip()
    art = m.group("art")
    sep = "" if art.endswith("'") else " "
    return f"{art[0].upper()}{art[1:]}{sep}{m.group('body').strip()}{m.group('rest')}".strip()


def title_variants(title: str) -> list[str]:
    """Readable forms of a catalogue title, most likely first, without duplicates.

    ``"Seven (Se7en)"`` gives ``["Seven", "Se7en", "Seven (Se7en)"]``; ``"Contempt (Mépris, Le)"`` gives
    ``["Contempt", "Le Mépris", …]``; a trailing "(1995)" is dropped first.
    """
    title = _YEAR_SUFFIX.sub("", title.strip())
    main = _PARENS.sub("", title).strip()
    alts = [a.strip() for a in _PARENS.findall(title) if a.strip() and not a.strip().lower().startswith("a.k.a")]
    alts += [a.strip()[5:].strip() for a in _PARENS.findall(title) if a.strip().lower().startswith("a.k.a")]
    out: list[str] = []
    for form in [main, *alts, title]:
        for cand in (move_article(form), form):
            cand = re.sub(r"\s+", " ", cand).strip()
            if cand and cand not in out:
                out.append(cand)
    return out


_SEQUEL = re.compile(r"^\s*(?:part|episode|chapter|vol(?:ume)?|book|act|[ivxlc]+\b|\d)", re.IGNORECASE)


def title_heads(title: str) -> list[str]:
    """Main titles without a subtitle: ``"Against Our Will: Men, Women, and Rape"`` -> ``["Against Our Will"]``.

    A remainder that marks a sequel or a part ("Part II", "Episode IV", "2") is kept, since there
    the head names another work ("The Godfather: Part II" is not "The Godfather").
    """
    heads: list[str] = []
    for form in title_variants(title):
        for sep in (":", " - ", " – "):
            if sep in form:
                head, rest = (p.strip() for p in form.split(sep, 1))
                if len(head) > 3 and not _SEQUEL.match(rest) and head not in heads:
                    heads.append(head)
                break
    return heads


def split_label(label: str) -> tuple[str, str | None, int | None]:
    """``"Richard III (1995 film)"`` -> ``("Richard III", "1995 film", 1995)``; no suffix -> (label, None, None)."""
    m = _DISAMBIG.match(label.strip())
    if not m or not m.group("base"):
        return label.strip(), None, None
    tag = m.group("tag")
    year = _YEAR.search(tag)
    return m.group("base"), tag, (int(year.group(1)) if year else None)


def first_year(text: str | None) -> int | None:
    """The first plausible year in ``text`` (e.g. an abstract's "is a 1995 American film")."""
    if not text:
        return None
    m = _YEAR.search(text)
    return int(m.group(1)) if m else None


def suffix_kind(tag: str | None) -> str | None:
    """The kind a disambiguation suffix names ("1995 film" -> "film", "novel" -> "book"), else None."""
    if not tag:
        return None
    low = tag.lower()
    for kind, names in KIND_WORDS.items():
        if any(re.search(rf"\b{re.escape(n)}\b", low) for n in names):
            return kind
    return None
