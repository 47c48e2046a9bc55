"""Every Examples section of the package's docstrings runs and gives what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import sklearn_autorec

MODULES = sorted(
    name for _, name, _ in pkgutil.iter_modules(sklearn_autorec.__path__, "sklearn_autorec.")
    if name not in ("sklearn_autorec.__main__",))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
