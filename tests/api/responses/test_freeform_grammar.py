"""The Lark / regex -> GBNF translation of freeform tool grammars (no model: the tool tests
run the output through llama.cpp). The GBNF describes the input as a JSON string writes it."""
from __future__ import annotations

import pytest

from pyllm.server.freeform_grammar import GrammarError, freeform_gbnf


def _rules(gbnf: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in gbnf.splitlines())


def test_literals_are_matched_in_their_json_escaped_form():
    rules = _rules(freeform_gbnf("lark", 'start: "say \\"hi\\"" LF\n%import common.LF', "custom-0"))
    assert rules["custom-0"] == "custom-0-r-start"
    assert rules["custom-0-r-start"] == r'"say \\\"hi\\\"" custom-0-t-lf'
    assert rules["custom-0-t-lf"] == r'"\\n"'


def test_dot_excludes_newline_and_admits_escaped_quotes_and_backslashes():
    [(_, body)] = _rules(freeform_gbnf("regex", ".", "custom-1")).items()
    assert '"\\\\n"' not in body and '"\\\\\\""' in body and '"\\\\\\\\"' in body and '"\\\\t"' in body


def test_lark_constructs_codex_grammars_use():
    grammar = '''
    // comment
    start: item+ end   # trailing comment
    ?item: (word | NUMBER) [","] -> thing
         | "x"i ~ 2..3
    word: /[a-z]+/
    end: "."
    %import common.NUMBER
    '''
    rules = _rules(freeform_gbnf("lark", grammar, "custom-2"))
    assert set(rules) == {"custom-2", "custom-2-r-start", "custom-2-r-item", "custom-2-r-word", "custom-2-r-end",
                          "custom-2-t-number"}
    assert "{2,3}" in rules["custom-2-r-item"]


@pytest.mark.parametrize(("syntax", "definition"), [
    ("lark", "start: a"), ("lark", "start: \"x\"\n%ignore \" \""), ("lark", "start: \"x\"\n%import foo.BAR"),
    ("lark", "rule: \"x\""), ("lark", "start: (\"x\""), ("regex", "(?=x)y"), ("regex", "a\\1"), ("regex", "[a-"),
    ("regex", "a{2"), ("regex", "a^b"), ("regex", "*x"), ("ebnf", "x"),
])
def test_unsupported_or_malformed_grammars_are_refused(syntax, definition):
    with pytest.raises(GrammarError):
        freeform_gbnf(syntax, definition, "custom-0")
