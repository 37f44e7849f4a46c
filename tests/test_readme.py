"""The README's `model.fit` snippet runs as written."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_snippet():
    text = open(os.path.join(REPO, "README.md")).read()
    match = re.search(r"<!-- model-fit-snippet -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "README.md lost its model.fit snippet marker"
    return match.group(1)


def test_model_fit_snippet_runs():
    namespace = {}
    exec(compile(readme_snippet(), "README.md snippet", "exec"), namespace)
    assert namespace["samples"].shape == (16, 28, 28, 1)
    assert namespace["energies"].shape == (4,)
    assert len(namespace["history"].history["d"]) == 2
