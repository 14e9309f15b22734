"""
The custom parser example of the docs (docs/examples/custom_parser: a
Python half, a JavaScript half and a Twisted plugin module) is found by name
through Twisted's plugin system everywhere a parser is named.  It runs in a
child process: Twisted reads the plugin folders when ``twisted.plugins`` is
first imported.  (tests/browser/test_browser_parsers.py runs it in Chromium.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "examples" / "custom_parser"

SCRIPT = textwrap.dedent(
    """
    from twisted.internet.task import Clock
    from primus_tx import Primus, PrimusError
    from primus_tx.client import Socket, create_socket
    from primus_tx.parsers import find_parser
    from primus_tx.tap import Options

    parser = find_parser("UTF8-JSON")
    assert parser.name == "utf8-json" and parser.binary is True
    message = parser.encode({"a": ["é", 1]})
    assert message == '{"a":["é",1]}'.encode("utf-8"), message
    assert parser.decode(message) == {"a": ["é", 1]}

    primus = Primus(None, parser="utf8-json", reactor=Clock())
    assert primus.spec["parser"] == "utf8-json"
    assert "utf8-json parser: JSON as UTF-8 bytes" in primus.library()
    try:
        Primus(None, parser="utf8-json", transformer="sockjs", reactor=Clock())
    except PrimusError as error:
        assert "carries text only" in str(error)
    else:
        raise AssertionError("sockjs accepted a binary parser")

    assert create_socket(parser="utf8-json")._defaults["parser"] is parser
    assert Socket("http://127.0.0.1:1", parser="utf8-json", manual=True).parser is parser
    options = Options()
    options.parseOptions(["--parser", "utf8-json"])
    assert options["parser"] == "utf8-json"
    print("found")
    """
)


def example_on_path(tmp_path: Path) -> dict[str, str]:
    """
    A copy of the example (Twisted writes its plugin cache beside the
    plugin module) and an environment that puts it on the path.
    """
    shutil.copytree(EXAMPLE, tmp_path / "example")
    env = dict(os.environ)
    paths = [str(tmp_path / "example"), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_with_example(tmp_path: Path, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=example_on_path(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_found_by_name_everywhere(tmp_path: Path) -> None:
    assert run_with_example(tmp_path, SCRIPT).strip() == "found"


def test_unknown_names_list_the_published_parser(tmp_path: Path) -> None:
    code = (
        "from primus_tx.parsers import find_parser\n"
        "try:\n    find_parser('yaml')\n"
        "except Exception as error:\n    print(error)\n"
    )
    output = run_with_example(tmp_path, code)
    assert "Available parsers: binary, ejson, json, msgpack, utf8-json" in output
