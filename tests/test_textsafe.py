"""The escapes take shortcuts for text that needs none; they must give what the patterns
give for any text, hazards anywhere in it (``linkaudit.textsafe``)."""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit import textsafe

# Every character a rule looks at (controls, DEL, C1, bidi, separators, surrogates,
# Unicode spaces, ':' '#' '['), with plain ASCII and non-ASCII letters between them.
HAZARDS = " \t\r\n\x0b\x0c\x1f\x7f\x80\x85\x9f\xa0\u3000\u2028\u200e\u202e\udc80\ud800:#[a\\\"é日"
TEXTS = st.text(alphabet=st.sampled_from(HAZARDS), max_size=16)


def _commands_by_pattern(text: str, escape: Callable[[str], str]) -> str:
    text = textsafe._COMMAND_START.sub(lambda m: m.group(1) + escape(":"), text)
    return textsafe._LEGACY_COMMAND.sub(lambda m: escape("#"), text)


def _by_pattern(replace: Callable[[re.Match[str]], str], text: str) -> str:
    return textsafe.UNSAFE.sub(replace, text)


@settings(max_examples=3000)
@given(TEXTS, st.sampled_from(["", "\n", "\t\n"]))
def test_shortcuts_give_what_the_patterns_give(text: str, keep: str) -> None:
    unicode_escape = textsafe._unicode_escape
    assert textsafe.json_escaped(text) == _commands_by_pattern(_by_pattern(
        lambda m: m.group() if m.group() < " " else unicode_escape(m.group()), text),
        unicode_escape)
    assert textsafe.backslash_escaped(text, keep=keep) == _by_pattern(
        lambda m: m.group() if m.group() in keep else textsafe._backslash(m.group()), text)
    assert textsafe.percent_escaped(text) == _by_pattern(
        lambda m: textsafe._percent(m.group()), text)
    assert textsafe.without_commands(text) == _commands_by_pattern(text, textsafe._backslash)
    assert textsafe.without_commands(text, line_starts=False) == textsafe._LEGACY_COMMAND.sub(
        lambda m: textsafe._backslash("#"), text)


def test_plain_text_comes_back_as_it_is() -> None:
    url = "https://example.com/a::b?x=1#frag"
    assert textsafe.backslash_escaped(url) == textsafe.percent_escaped(url) == url
    assert textsafe.json_escaped('"' + url + '"') == '"' + url + '"'
    assert textsafe.without_commands("::x") == "\\x3a:x"
