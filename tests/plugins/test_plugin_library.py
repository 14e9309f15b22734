"""
The browser halves of this group's plugins compiled together into one
``/primus/primus.js``: valid JavaScript that Node loads, with each plugin
registered once.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from fakes import make_primus
from nodepeer import node_path

PLUGINS = "substream, multiplex, mirage, fortress-maximus, sessions"


def test_the_library_with_every_client_half_loads(tmp_path: Path) -> None:
    primus, _ = make_primus(ping_interval=0, plugin=PLUGINS)
    source = primus.library()
    for name in ("substream", "multiplex", "mirage"):
        assert source.count(f"Primus.prototype.ark.{name} = ") == 1
    # Server-only plugins add nothing to the page.
    assert "fortress" not in source and "getSession" not in source
    library = tmp_path / "primus.js"
    library.write_text(source, encoding="utf-8")
    check = (
        "const Primus = require(process.argv[1]);"
        "const ark = Object.keys(Primus.prototype.ark).sort().join(',');"
        "if (ark !== 'mirage,multiplex,substream') throw new Error(ark);"
        "if (!Primus.$.substream || !Primus.$.multiplex) throw new Error('helpers');"
    )
    subprocess.run([node_path(), "-e", check, str(library)], check=True, timeout=30)


def test_every_plugin_of_the_group_is_found_by_its_name() -> None:
    from zope.interface.verify import verifyObject

    from primus_tx._plugins import BUILTIN, find_plugin
    from primus_tx.interfaces import IPrimusPlugin

    group = ("substream", "multiplex", "fortress-maximus", "mirage", "sessions", "metrics")
    assert set(group) <= set(BUILTIN)
    for name in group:
        found = find_plugin(name)
        assert verifyObject(IPrimusPlugin, found)
        assert found.name == name
        primus, _ = make_primus(ping_interval=0)
        assert primus.plugin(name) is found  # asking for it adds it
