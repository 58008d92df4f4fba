"""How the site turns the sources into pages: numpydoc markup, diagrams, one title per API page."""

from __future__ import annotations

import html
import importlib
import pathlib
import re
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# A role in a docstring reads ":class:`X`"; once rendered as HTML and read as text, ":class:X".
RAW_MARKUP = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|obj|exc|data|const|ref|term):(?=\S)|\[\d+\]_")


@pytest.fixture
def docs_module(monkeypatch):
    """Import a ``docs/_*.py`` hook or extension by module name."""
    monkeypatch.syspath_prepend(str(DOCS))

    def load(name: str):
        sys.modules.pop(name, None)
        return importlib.import_module(name)

    return load


@pytest.fixture
def scoped_object():
    """A small griffe package: ``pkg.mod`` with ``Thing.run`` and a function ``helper``."""
    griffe = pytest.importorskip("griffe")
    pkg = griffe.Module("pkg")
    mod = griffe.Module("mod", parent=pkg)
    pkg.set_member("mod", mod)
    thing = griffe.Class("Thing", parent=mod)
    mod.set_member("Thing", thing)
    run = griffe.Function("run", parent=thing)
    thing.set_member("run", run)
    mod.set_member("helper", griffe.Function("helper", parent=mod))
    return run


def test_roles_become_optional_cross_references_shown_as_code(docs_module, scoped_object):
    numpydoc = docs_module("_griffe_numpydoc")

    text = numpydoc.rewrite("See :class:`Thing`, :meth:`~pkg.mod.Thing.run`, :func:`.helper` and "
                            ":class:`numpy.ndarray`.", scoped_object)

    assert '<autoref identifier="pkg.mod.Thing" optional><code>Thing</code></autoref>' in text
    assert '<autoref identifier="pkg.mod.Thing.run" optional><code>run()</code></autoref>' in text
    assert '<autoref identifier="pkg.mod.helper" optional><code>helper()</code></autoref>' in text
    assert '<autoref identifier="numpy.ndarray" optional><code>numpy.ndarray</code></autoref>' in text
    assert not RAW_MARKUP.search(text)


def test_explicit_role_titles_are_kept(docs_module, scoped_object):
    numpydoc = docs_module("_griffe_numpydoc")

    text = numpydoc.rewrite(":meth:`the runner <Thing.run>`", scoped_object)

    assert text == '<autoref identifier="pkg.mod.Thing.run" optional><code>the runner</code></autoref>'


def test_citations_link_to_their_reference_entry(docs_module, scoped_object):
    numpydoc = docs_module("_griffe_numpydoc")
    doc = "Weighted mean [1]_.\n\nReferences\n----------\n.. [1] McMahan et al., AISTATS 2017,\n   continued."

    text = numpydoc.rewrite(doc, scoped_object)

    assert '<sup><a href="#pkg-mod-Thing-run-cite-1">[1]</a></sup>' in text
    assert '- <a id="pkg-mod-Thing-run-cite-1"></a>[1] McMahan et al., AISTATS 2017,\n   continued.' in text
    assert not RAW_MARKUP.search(text)


def test_api_page_block_repeating_the_title_drops_its_heading(docs_module):
    hook = docs_module("_api_pages")

    class Page:
        class file:
            src_uri = "api/servers.md"

    markdown = "# sedna_lib.servers\n\n::: sedna_lib.servers\n\n::: sedna_lib.servers.inference\n"
    done = hook.on_page_markdown(markdown, Page, None, None)

    assert done == ("# sedna_lib.servers\n\n::: sedna_lib.servers\n    options:\n      show_root_heading: false\n\n"
                    "::: sedna_lib.servers.inference\n")


def test_diagram_without_graphviz_is_an_error_naming_the_file_and_the_fix(docs_module, tmp_path, monkeypatch):
    pytest.importorskip("mkdocs")
    from mkdocs.exceptions import PluginError

    diagrams = docs_module("_diagrams")
    monkeypatch.setattr(shutil, "which", lambda name: None)

    with pytest.raises(PluginError, match=r"flow\.dot.*apt-get install graphviz"):
        diagrams.render(tmp_path / "flow.dot")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_every_diagram_source_draws(docs_module):
    pytest.importorskip("mkdocs")
    diagrams = docs_module("_diagrams")
    sources = sorted((DOCS / "diagrams").glob("*.dot"))

    assert sources
    for source in sources:
        svg = diagrams.render(source)
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>"), source.name


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_a_broken_diagram_source_is_an_error_naming_it(docs_module, tmp_path):
    pytest.importorskip("mkdocs")
    from mkdocs.exceptions import PluginError

    diagrams = docs_module("_diagrams")
    broken = tmp_path / "broken.dot"
    broken.write_text("digraph { a -> }")

    with pytest.raises(PluginError, match="broken.dot"):
        diagrams.render(broken)


def test_every_picture_a_page_shows_exists():
    sources = {p.stem for p in (DOCS / "diagrams").glob("*.dot")}
    missing = []
    for page in DOCS.rglob("*.md"):
        text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
        text = re.sub(r"`[^`\n]+`", "", text)    # code that shows the syntax is not a picture
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text):
            path = (page.parent / target).resolve()
            drawn = path.parent == (DOCS / "diagrams").resolve() and path.suffix == ".svg" and path.stem in sources
            if not (drawn or path.is_file()):
                missing.append(f"{page.relative_to(DOCS)}: {target}")
    assert missing == []


def test_no_page_draws_a_diagram_in_ascii_art():
    box_drawing = re.compile(r"[─│┌┐└┘├┤┬┴┼▶◀▲▼]|\+-{3,}|-{2,}>|<-{2,}")
    drawn = []
    for page in DOCS.rglob("*.md"):
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M):
            if box_drawing.search(block):
                drawn.append(f"{page.relative_to(DOCS)}: {block.strip().splitlines()[0][:60]}")
    assert drawn == [], "draw these with Graphviz in docs/diagrams/ instead"


@pytest.mark.slow
def test_no_built_page_shows_raw_numpydoc_markup(built_site):
    site, problems = built_site
    if problems is not None:
        pytest.skip("the site did not build (test_site_builds_in_strict_mode says why)")
    shown = {}
    for page in site.rglob("*.html"):
        text = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        found = sorted({m.group(0) for m in RAW_MARKUP.finditer(text)})
        if found:
            shown[str(page.relative_to(site))] = found
    assert shown == {}


def test_diagram_width_is_read_in_css_pixels(docs_module):
    pytest.importorskip("mkdocs")
    diagrams = docs_module("_diagrams")

    assert diagrams.width_px('<svg width="300pt" height="10pt">') == 400
    assert diagrams.width_px('<svg width="300px" height="10px">') == 300


def test_a_wide_diagram_scrolls_in_its_box_at_a_readable_size(docs_module):
    pytest.importorskip("mkdocs")
    diagrams = docs_module("_diagrams")
    html = '<p><img alt="a &gt; b" src="../diagrams/flow.svg" /> and <img src="photo.png" /></p>'

    framed = diagrams.frame(html, {"flow": 1000.0})

    smallest = 1000.0 * diagrams.MIN_LABEL_PX / diagrams.LABEL_PX
    assert framed == ('<p><span class="diagram-scroll"><img style="min-width: %dpx" alt="a &gt; b" '
                      'src="../diagrams/flow.svg" /></span> and <img src="photo.png" /></p>') % -(-smallest // 1)


# "pip install sedna_lib[...]" or "pip install sedna": a name looked up on an index (a git URL is fine).
INDEX_INSTALL = re.compile(r"\bpip install\s+(?:-\S+\s+)*[\"']?(?:sedna_lib|sedna)\b(?![^\s\"']*\s*@\s*git\+)")


def test_install_commands_never_name_a_package_from_an_index():
    # sedna_lib is installed from a clone, a wheel or a git URL; the index's "sedna" is another project.
    pages = [*DOCS.rglob("*.md"), ROOT / "README.md", *(ROOT / "examples").glob("*/README.md")]
    bad = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"^```(?:sh|bash|console)?\n(.*?)^```", text, re.S | re.M):
            for line in block.splitlines():
                if INDEX_INSTALL.search(line):
                    bad.append(f"{page.relative_to(ROOT)}: {line.strip()}")
    assert bad == []
