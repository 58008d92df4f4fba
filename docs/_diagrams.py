"""MkDocs hook: render every ``docs/diagrams/*.dot`` to SVG with Graphviz when the site is built.

The ``.dot`` files are the diagrams' source and the only thing kept in the repository; each becomes
``diagrams/<name>.svg`` in the site, so a page shows it with ``![...](diagrams/<name>.svg)``.
``dot`` runs locally (Debian's ``graphviz`` package) and needs no network.

A picture shrinks to the width of the page, but never so far that its labels become unreadable: each
one is put in a box that scrolls sideways, and given a smallest width at which its 12 pt labels are
still ``MIN_LABEL_PX`` pixels high (a wide picture on a phone scrolls inside its box, the page does not).
"""

from __future__ import annotations

import math
import pathlib
import re
import shutil
import subprocess

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

SOURCE_DIR = "diagrams"
MIN_LABEL_PX = 9.0
LABEL_PX = 16.0          # Graphviz's 12 pt labels, in CSS pixels at the picture's own size
_widths: dict[str, float] = {}     # picture name -> its own width in CSS pixels
_IMG = re.compile(r'<img\b[^>]*\bsrc="(?P<src>[^"]*\bdiagrams/(?P<name>[\w.-]+)\.svg)"[^>]*>')


def render(source: pathlib.Path, dot: str | None = None) -> str:
    """Return the SVG text Graphviz draws for one ``.dot`` file.

    Raises ``PluginError`` naming the file when ``dot`` is missing or rejects the source.
    """
    dot = dot or shutil.which("dot")
    if dot is None:
        raise PluginError(f"Graphviz 'dot' is needed to draw {source.name}: install it "
                          "(Debian: apt-get install graphviz) and build again")
    done = subprocess.run([dot, "-Tsvg", str(source)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or "<svg" not in done.stdout:
        raise PluginError(f"Graphviz could not draw {source}: {done.stderr.strip()}")
    svg = done.stdout
    return svg[svg.index("<svg"):]     # drop the XML prolog and Graphviz's comments before the picture


def on_files(files: Files, config) -> Files:
    """Add one generated ``diagrams/<name>.svg`` per ``diagrams/<name>.dot``, and leave the sources out."""
    folder = pathlib.Path(config["docs_dir"]) / SOURCE_DIR
    for source in sorted(folder.glob("*.dot")):
        dot_file = files.get_file_from_path(f"{SOURCE_DIR}/{source.name}")
        if dot_file is not None:
            files.remove(dot_file)
        svg = render(source)
        _widths[source.stem] = width_px(svg)
        files.append(File.generated(config, f"{SOURCE_DIR}/{source.stem}.svg", content=svg))
    return files


def width_px(svg: str) -> float:
    """The width a browser gives an SVG drawn by Graphviz (``width="...pt"``), in CSS pixels."""
    found = re.search(r'<svg\b[^>]*\bwidth="(?P<value>[\d.]+)(?P<unit>pt|px)?"', svg)
    if found is None:
        return 0.0
    value = float(found["value"])
    return value * 4 / 3 if found["unit"] in (None, "pt") else value


def frame(html: str, widths: dict[str, float]) -> str:
    """Put each diagram of a page in a sideways-scrolling box, with its smallest readable width."""
    def wrap(match: re.Match) -> str:
        smallest = widths.get(match["name"], 0.0) * MIN_LABEL_PX / LABEL_PX
        tag = match.group(0)
        if smallest:
            tag = tag.replace("<img", f'<img style="min-width: {math.ceil(smallest)}px"', 1)
        return f'<span class="diagram-scroll">{tag}</span>'

    return _IMG.sub(wrap, html)


def on_page_content(html: str, page, config, files) -> str:
    """Frame the page's diagrams (see :func:`frame`)."""
    return frame(html, _widths)
