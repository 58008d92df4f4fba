"""MkDocs hook: render every ``docs/diagrams/*.dot`` to SVG with Graphviz when the site is built.

The ``.dot`` files are the diagrams' source and the only thing kept in the repository; each becomes
``diagrams/<name>.svg`` in the site, so a page shows it with ``![...](diagrams/<name>.svg)``.
``dot`` runs locally (Debian's ``graphviz`` package) and needs no network.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

SOURCE_DIR = "diagrams"


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
        files.append(File.generated(config, f"{SOURCE_DIR}/{source.stem}.svg", content=render(source)))
    return files
