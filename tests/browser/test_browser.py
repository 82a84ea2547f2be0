"""The persona guide in a real Neo4j Browser (5.24, served by the test server) in headless Chromium:
log in, ``:style`` + the grass, the ``:param`` file, then every guide query; each view shows what the
driver says it should (graph summaries "Displaying N nodes, M relationships.", table cells in order) and no
frame shows an error. Needs Debian's ``chromium`` and the ``playwright`` package (run.sh and the test
extra install both); skips when either is missing. Ends with a screenshot in the test's tmp_path."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from personarec.config import Settings
from personarec.graph import Graph
from personarec.graph.cypher import cypher_dir

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000
#: a Browser error frame names the Neo4j error (Neo.ClientError...) or the Browser's own (InvalidGrassError...)
ERROR = re.compile(r"Neo\.\w+Error|\w+Error\b|ERROR")


def _frame_text(page: Any, before: int, expect: str) -> str:
    """The text of the newest frame once there are more than ``before`` frames and it shows ``expect``."""
    page.wait_for_function(f"document.querySelectorAll('[data-testid=frame]').length > {before}",
                           timeout=WAIT_MS)
    frame = page.locator('[data-testid="frame"]').first
    frame.get_by_text(re.compile(expect)).first.wait_for(timeout=WAIT_MS)
    return str(frame.inner_text())


def _run(page: Any, text: str, expect: str) -> str:
    """Type ``text`` into the Browser's editor, run it, return the new frame's text (no error in it)."""
    before = page.locator('[data-testid="frame"]').count()
    page.locator('[data-testid="activeEditor"]').click()
    page.keyboard.insert_text(text)
    page.click('[data-testid="editor-Run"]')
    try:
        shown = _frame_text(page, before, expect)
    except Exception:
        body = page.locator('[data-testid="frame"]').first.inner_text() if page.locator(
            '[data-testid="frame"]').count() > before else "(no new frame)"
        raise AssertionError(f"{text.splitlines()[0]}: {expect!r} not shown; newest frame: {body[-2000:]}") from None
    assert not ERROR.search(shown), shown[-2000:]  # the guide's files hold no such word
    return shown


def _rows(text: str) -> list[list[str]]:
    """Table cells of a Browser table frame's text: each row is "\\n<n>\\n\\t<cell>\\t<cell>..."."""
    return [line.split("\t")[1:] for line in text.split("\n") if line.startswith("\t") and '"' in line]


def _check_graph_view(page: Any, expected: tuple[int, int, int]) -> str:
    """Wait for the graph view to settle and check its summary against (nodes, relationships of the
    query, relationships among the nodes): the node count exactly, the relationships drawn between the
    two (the Browser may connect result nodes), and the legend's counts. Returns the frame's text."""
    shown = _settled_graph(page)
    nodes, rels, among = expected
    # "Connect result nodes" adds its relationships a few at a time; on a busy machine the last ones can
    # arrive well after the first drawing, so give the legend time to reach them before comparing
    deadline = time.monotonic() + WAIT_MS / 1000
    while re.findall(r"\* \((\d+)\)", shown) != [str(nodes), str(among)] and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        shown = str(page.locator('[data-testid="frame"]').first.inner_text())
    shown_nodes, shown_rels = _summary(shown)
    assert shown_nodes == nodes and rels <= shown_rels <= among, (shown_nodes, shown_rels)
    assert re.findall(r"\* \((\d+)\)", shown) == [str(nodes), str(among)], shown[-1000:]
    return shown


def _settled_graph(page: Any) -> str:
    """The newest graph frame's text once its overview lists the relationship types: the relationships
    "Connect result nodes" adds arrive after the first drawing."""
    page.wait_for_function(
        "() => /Relationship types[\\s\\S]*\\* \\(\\d+\\)/.test("
        "document.querySelector('[data-testid=frame]').innerText)", timeout=WAIT_MS)
    page.wait_for_timeout(500)
    return str(page.locator('[data-testid="frame"]').first.inner_text())


def _summary(text: str) -> tuple[int, int]:
    match = re.search(r"Displaying (\d+) nodes?, (\d+) relationships?", text)
    assert match, text[-2000:]
    return int(match[1]), int(match[2])


def test_persona_guide_in_neo4j_browser(neo4j_settings: Settings, graph: Graph, guide_graph: dict[str, Any],
                                        guide: dict[str, Any], tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip("chromium not installed (apt-get install chromium; run.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install "
                                   "-e '.[test]')")
    t0 = time.perf_counter()
    graph.execute("CALL db.awaitIndexes(30)")
    params = guide["params"](graph)
    expected = {name: guide["drawn"](graph, name, params)
                for name in ("personas_2_neighbourhood.cypher", "why_this_item.cypher")}
    folder = cypher_dir() / "browser"
    read = {p.name: p.read_text() for p in folder.iterdir()}
    with sync_api.sync_playwright() as pw, tempfile.TemporaryDirectory(dir=tmp_path) as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS, headless=True,
                                                    viewport={"width": 1400, "height": 1000}, timeout=WAIT_MS)
        try:
            page = ctx.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"http://127.0.0.1:{neo4j_settings.server.http_port}/browser/", timeout=WAIT_MS)
            page.fill('[data-testid="boltaddress"]', neo4j_settings.bolt_uri)
            page.fill('[data-testid="username"]', "neo4j")
            password = neo4j_settings.neo4j.password
            assert password is not None
            page.fill('[data-testid="password"]', password.get_secret_value())
            page.click('[data-testid="connect"]')
            page.get_by_text("You are connected as user").first.wait_for(timeout=WAIT_MS)

            # the style: ":style" + the file's text, as docs/graph-model.md says
            _run(page, ":style\n" + read["personas.grass"], "node.User")
            # the parameters: three :param lines in one go, each answered with a check mark
            _run(page, read["personas_1_set_params.cypher"], ":param k => 5")
            frame = page.locator('[data-testid="frame"]').first
            done = frame.locator('[data-testid="multi-statement-list-icon"][title="Status: success"]')
            done.nth(2).wait_for(timeout=WAIT_MS)  # three check marks, one per :param line
            assert done.count() == 3
            assert frame.locator('[data-testid="multi-statement-list-icon"]').count() == 3
            shown = _run(page, "RETURN valueType($k) AS type, $user AS user", "Started streaming")
            assert _rows(shown) == [['"INTEGER NOT NULL"', '"ml-100k:1"']]

            _run(page, read["personas_2_neighbourhood.cypher"], "Displaying")
            shown = _check_graph_view(page, expected["personas_2_neighbourhood.cypher"])
            assert re.search(r"User \(6\)", shown) and re.search(r"Item \(5\)", shown), shown[-1000:]
            frame = page.locator('[data-testid="frame"]').first
            # the grass applied: users drawn blue, items orange (node circles take the style's colour)
            assert frame.locator('circle[fill="#4C8EDA"]').count() >= 6
            assert frame.locator('circle[fill="#F79767"]').count() >= 5

            shown = _run(page, read["personas_3_attention.cypher"], "Started streaming")
            rows = _rows(shown)
            assert [(r[0], r[1]) for r in rows] == [('"U-I-Genre-I-U"', "0.6"), ('"U-I-U"', "0.25"),
                                                    ('"U-I-I-U"', "0.15")]
            assert all(r[3:] == ['"v1 HDGI"', "4", "1.3863", "0.5234", "0.512"] for r in rows), rows

            shown = _run(page, read["personas_4_similar.cypher"], "Started streaming")
            rows = _rows(shown)
            assert [r[1] for r in rows] == [f'"{u}"' for u in guide_graph["neighbours"]], rows
            assert all(re.fullmatch(r"0\.\d{1,3}", r[2]) for r in rows), rows  # cosine, 3 decimals

            _run(page, read["why_this_item.cypher"], "Displaying")
            shown = _check_graph_view(page, expected["why_this_item.cypher"])

            page.wait_for_timeout(1500)  # let the force layout of the last graph settle for the picture
            page.screenshot(path=str(tmp_path / "persona-guide.png"), full_page=True)
        finally:
            ctx.close()
    elapsed = time.perf_counter() - t0
    print(f"browser guide test: {elapsed:.1f} s; screenshot {tmp_path / 'persona-guide.png'}")
    assert elapsed < 120
