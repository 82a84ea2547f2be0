"""Item text building and hashing (personarec.embed.text); no database needed."""

from personarec.embed.text import MAX_TEXT_CHARS, build_item_text, clean, text_hash, truncate


def test_text_puts_title_first_and_prose_last() -> None:
    text = build_item_text({
        "title": "Scream", "year": 1996, "kind": "film", "genres": ["Thriller", "Horror"],
        "facts": [{"rel": "STARRING", "label": "Neve Campbell"}, {"rel": "DIRECTED_BY", "label": "Wes Craven"},
                  {"rel": "HAS_SUBJECT", "label": "http://dbpedia.org/resource/Category:Slasher_films"}],
        "abstract": "Scream is a 1996 American slasher film.",
    })
    assert text.startswith("Scream (1996). A film. Genres: Horror, Thriller.")
    assert "Directed by: Wes Craven." in text and "Starring: Neve Campbell." in text
    assert "Subjects: Slasher films." in text
    assert text.index("Directed by") < text.index("Starring") < text.index("Subjects")
    assert text.endswith("Scream is a 1996 American slasher film.")


def test_text_is_independent_of_list_order_and_cleans_html() -> None:
    a = build_item_text({"title": "Soap &amp; <b>Bubbles</b>", "categories": ["Beauty", "Bath", "Beauty"]})
    b = build_item_text({"title": "Soap & Bubbles", "categories": ["Bath", "Beauty"]})
    assert a == b == "Soap & Bubbles. Categories: Bath, Beauty."


def test_long_fields_are_truncated_and_empty_items_have_no_text() -> None:
    text = build_item_text({"title": "T", "description": ["word " * 2000], "categories": [f"c{i}" for i in range(50)]})
    assert len(text) <= MAX_TEXT_CHARS and text.endswith("…")
    assert text.count(",") < 10  # category list capped
    assert build_item_text({"title": None, "description": ""}) == ""
    assert truncate("abc def ghi", 8) == "abc def…" and clean(None) == ""


def test_hash_depends_on_text_and_model() -> None:
    assert text_hash("x", "m") == text_hash("x", "m")
    assert text_hash("x", "m") != text_hash("y", "m") != text_hash("x", "n")
