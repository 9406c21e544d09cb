"""The literal a regex needs (kizuki.rules.regexlit) never rules out a real match."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuki.rules.regexlit import required_literal


@pytest.mark.parametrize(("pattern", "flags", "expected"), [
    (r"\w+`(?:\w+|-|.)`[\w+|\s]", 0, ("`", False)),
    (r'"(?:\{\d\})+"\s*-f', 0, ("-f", False)),
    (r"(?i)\$\{`?e`?n`?v`?:`?p`?a`?t`?h`?\}", 0, ("${", True)),
    (r"^C:\\Users\\user00[0-9]{2}\\Documents\\finance\\", 0,
     ("\\Documents\\finance\\", False)),
    (r"\\Users\\[^\\]+\\AppData", re.IGNORECASE, ("\\appdata", True)),
    (r"(abc)+xyz", 0, ("abc", False)),
    (r"a(?i:bcdef)g", 0, ("a", False)),  # a group with its own flags is skipped
    (r"(?:mimikatz)?x", 0, ("x", False)),  # an optional part is not required
    (r"foo|barbaz", 0, None),  # alternation: neither side is required
    (r"[a-z]+\d*", 0, None),
    (r"(?i)kks", 0, None),  # every letter folds with a non-ASCII character
    (r"(?i)certutil", 0, ("certut", True)),
    (r"(?x) a b c", 0, None),  # verbose patterns are left alone
    (r"(", 0, None),  # invalid: the rule loader reports it, not this module
])
def test_required_literal(pattern: str, flags: int,
                          expected: tuple[str, bool] | None) -> None:
    assert required_literal(pattern, flags) == expected


_ALPHABET = "abcsikSK\u017f\u212a\u0131\u0130`-_\\ .${}"
_PATTERNS = [
    r"\w+`(?:\w+|-|.)`[\w+|\s]", r"(?i)\$\{`?e`?n`?v`?:`?p`?a`?t`?h`?\}",
    r"(?i)sick", r"(?i)a\\b", r"ab+c", r"(?:ab){2,}c", r"^\$a", r"(?i)b[ac]ks",
    r"(?i)(ab)c", r"a.b", r"(?i)ccc\b", r"c(?=ab)", r"(a)\1b",
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_PATTERNS), st.booleans(),
       st.text(alphabet=_ALPHABET, max_size=12))
def test_no_match_is_ruled_out(pattern: str, ignorecase: bool, value: str) -> None:
    flags = re.IGNORECASE if ignorecase else 0
    needed = required_literal(pattern, flags)
    if re.search(pattern, value, flags) is not None and needed is not None:
        lit, lowered = needed
        assert lit in (value.lower() if lowered else value)


def test_every_sigmahq_regex_keeps_its_matches() -> None:
    """On the regression texts the rules were written for, the guard changes nothing:
    checked through the compiled rules in test_sigmahq (regression samples); here, a
    few values from SigmaHQ's own examples."""
    pattern = r"\w+`(?:\w+|-|.)`[\w+|\s]"
    needed = required_literal(pattern)
    assert needed is not None
    sample = "IN`V`o`Ke-eXp`ResSIOn (Ne`W-ob`ject Net.WebClient).DownloadString"
    assert re.search(pattern, sample)
    assert needed[0] in sample
