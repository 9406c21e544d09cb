"""Keyword lists (kizuki.rules.keywords): value by value, remembered, same as the joined
text search they replace."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.model import Event, LogSource, Origin
from kizuki.rules import keywords
from kizuki.rules.keywords import keyword_list
from kizuki.rules.memo import haystack


def _event(original: dict[str, Any], message: str | None = None) -> Event:
    return Event(datetime(2024, 3, 4, tzinfo=UTC), "test:record", {}, original,
                 LogSource("windows"), Origin("t.evtx", 1), message)


WORDS = ["sekurlsa::", "kiwi legit printer", "\\mimilib.dll", "-1", "ru"]


@pytest.mark.parametrize(("original", "message", "expected"), [
    ({"CommandLine": "mimikatz SEKURLSA::logonpasswords"}, None, True),
    ({"Description": "Kiwi Legit Printer"}, None, True),
    ({"ImageLoaded": "C:\\Temp\\MIMILIB.DLL"}, None, True),
    ({"Image": "C:\\Windows\\notepad.exe"}, None, False),
    ({"Status": -12}, None, True),  # a number, read as its digits
    ({"Status": 12}, None, False),
    ({"Enabled": True}, None, True),  # "true" holds "ru"
    ({"Enabled": False}, None, False),
    ({"a": None, "b": ""}, "text sekurlsa:: here", True),  # the message counts
    ({"a": "sekurl", "b": "sa::"}, None, False),  # a word never spans two values
])
def test_keyword_list(original: dict[str, Any], message: str | None, expected: bool) -> None:
    pred = keyword_list(WORDS)
    assert pred(_event(original, message)) is expected
    assert pred(_event(original, message)) is expected  # remembered: the same answer


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keywords, "REMEMBER", 8)
    pred = keyword_list(["needle"])
    for i in range(100):
        assert not pred(_event({"v": f"hay {i}"}))
    assert pred(_event({"v": "a NEEDLE"}))


_TEXT = st.text(alphabet="abkSU:-1 \n\u017f", max_size=8)
_VALUE = st.one_of(st.none(), _TEXT, st.integers(-20, 20), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abkSU:-1 ", min_size=1, max_size=3), min_size=1,
                max_size=4),
       st.dictionaries(st.sampled_from("pqrs"), _VALUE, max_size=4),
       st.one_of(st.none(), _TEXT))
def test_same_as_the_joined_search(words: list[str], original: dict[str, Any],
                                   message: str | None) -> None:
    """Value by value gives what a search of the joined, lowered text gives."""
    words = [w.lower() for w in words]
    event = _event(original, message)
    joined = haystack(event)[1]
    assert keyword_list(words)(event) == any(w in joined for w in words)


def test_long_values_are_not_remembered() -> None:
    pred = keyword_list(["needle"])
    long_value = "x" * (keywords.REMEMBER_LENGTH + 1)
    assert not pred(_event({"v": long_value}))
    assert pred(_event({"v": long_value + "NEEDLE"}))
    closure = dict(zip(pred.__code__.co_freevars,
                       (c.cell_contents for c in pred.__closure__ or ()), strict=True))
    assert all(len(k) <= keywords.REMEMBER_LENGTH for k in closure["seen"])
