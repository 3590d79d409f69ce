"""Parse each state machine definition once, not once per execution.

moto's Step Functions interpreter lexes and parses the definition with ANTLR (pure
Python) at every StartExecution: about 200 ms of CPU for the DOFS workflow, most of the
work of an order on the local stack. The parse tree depends only on the definition, so
it is cached; the evaluation components are still built fresh for each execution
(``Preprocessor``), because they keep per-execution state.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

_parse_uncached = asl_parser.AmazonStateLanguageParser.parse


@functools.lru_cache(maxsize=64)
def _parse_tree(definition: str) -> Any:
    return _parse_uncached(definition)[1]


def _parse(definition: str) -> tuple[Any, Any]:
    tree = _parse_tree(definition)
    return Preprocessor().visit(tree), tree


@contextlib.contextmanager
def cached_asl_parsing() -> Iterator[None]:
    with mock.patch.object(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(_parse)):
        yield
