"""The ```python snippets of docs/nn.md and docs/optim.md run, in order, in one namespace per
page (each snippet registered in linecache, so srcad can read the functions it defines)."""
import linecache
import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs")


def snippets(page):
    with open(os.path.join(DOCS, page), encoding="utf-8") as fh:
        return re.findall(r"```python\n(.*?)```", fh.read(), flags=re.S)


@pytest.mark.parametrize("page", ["nn.md", "optim.md"])
def test_snippets_run(page):
    blocks = snippets(page)
    assert len(blocks) >= 4
    namespace = {"__name__": f"docs_{page[:-3]}"}
    for i, code in enumerate(blocks):
        filename = f"<docs/{page} snippet {i + 1}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        exec(compile(code, filename, "exec"), namespace)
