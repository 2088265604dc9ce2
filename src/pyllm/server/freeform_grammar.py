"""Grammars of freeform (``custom``) tools, as llama.cpp GBNF for the JSON string that carries them.

A custom tool's input reaches the chat template as the string argument ``{"input": "..."}``
(every template knows how to write a JSON call), so its grammar must describe the input
*as it appears inside a JSON string*: ``"`` as ``\\"``, a newline as ``\\n``. This module
translates the tool's ``format`` (a Lark grammar, or a regular expression) to GBNF rules over
that escaped text, which the tool-call grammar embeds between the quotes.

Supported: the Lark subset agent clients use (Codex's apply_patch grammar among them):
rules and terminals, ``|``, grouping, ``[...]``, ``? * +``, ``~ n`` / ``~ n..m``, string
literals (``i`` flag), ``"a".."z"`` ranges, ``/regex/`` terminals, ``%import common.X``,
``-> alias``, ``?rule`` / ``!rule``, ``//`` and ``#`` comments. Regular expressions: literals,
``.``, classes, ``\\d \\w \\s`` (and negations), groups (capturing, ``(?:``, ``(?P<name>``),
``|``, ``* + ? {n} {n,} {n,m}`` (lazy forms too), ``^``/``$`` at the ends. Anything else
(``%ignore``, look-arounds, back-references, templates) is a :class:`GrammarError`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

_MAX_CODEPOINT = 0x10FFFF


class GrammarError(ValueError):
    """The grammar cannot be translated (unsupported construct, or malformed)."""


# --- character sets over the raw text, written as GBNF over its JSON escaping ---------------

@dataclass(frozen=True)
class CharSet:
    ranges: tuple[tuple[int, int], ...]  # sorted, disjoint, inclusive

    @staticmethod
    def of(ranges: list[tuple[int, int]]) -> CharSet:
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(ranges):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return CharSet(tuple(merged))

    def complement(self) -> CharSet:
        out, start = [], 0
        for lo, hi in self.ranges:
            if lo > start:
                out.append((start, lo - 1))
            start = hi + 1
        if start <= _MAX_CODEPOINT:
            out.append((start, _MAX_CODEPOINT))
        return CharSet(tuple(out))

    def contains(self, cp: int) -> bool:
        return any(lo <= cp <= hi for lo, hi in self.ranges)

    def minus(self, other: CharSet) -> CharSet:
        return CharSet.of([r for r in self.ranges]).intersect(other.complement())

    def intersect(self, other: CharSet) -> CharSet:
        out = []
        for a_lo, a_hi in self.ranges:
            for b_lo, b_hi in other.ranges:
                lo, hi = max(a_lo, b_lo), min(a_hi, b_hi)
                if lo <= hi:
                    out.append((lo, hi))
        return CharSet.of(out)


_NEEDS_ESCAPE = CharSet.of([(0, 0x1F), (0x22, 0x22), (0x5C, 0x5C)])
# Control characters a JSON string writes as short escapes; others (\u00XX) are left out of
# negated classes to keep the grammar small: no client grammar means to admit them.
_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def _class_char(cp: int) -> str:
    c = chr(cp)
    if c in "]\\-[":
        return "\\" + c
    if cp < 0x20 or c == "^":  # GBNF has no \^ escape
        return f"\\x{cp:02X}"
    if cp >= 0x7F:  # escaped: the range ends may be surrogates or unassigned
        return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"
    return c


def _json_escape(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    out = ['"']
    for c in text:
        cp = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif cp < 0x20:
            out.append(f"\\x{cp:02X}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _escaped_set(chars: CharSet, negated_source: bool) -> str:
    """GBNF for one raw character of ``chars``, as a JSON string writes it."""
    plain = chars.minus(_NEEDS_ESCAPE)
    alternatives = []
    if plain.ranges:
        alternatives.append("[" + "".join(_class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}"
                                          for lo, hi in plain.ranges) + "]")
    for cp in range(0, 0x20):
        if chars.contains(cp):
            if cp in _SHORT_ESCAPES:
                alternatives.append(gbnf_literal(_SHORT_ESCAPES[cp]))
            elif not negated_source:
                alternatives.append(gbnf_literal(f"\\u{cp:04x}"))
    for cp in (0x22, 0x5C):
        if chars.contains(cp):
            alternatives.append(gbnf_literal(_SHORT_ESCAPES[cp]))
    if not alternatives:
        raise GrammarError("a character class that matches nothing")
    return alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")"


def _escaped_literal(text: str, ignore_case: bool = False) -> str:
    if not ignore_case:
        return gbnf_literal(_json_escape(text)) if text else '""'
    parts = []
    for c in text:
        if c.lower() != c.upper():
            parts.append(_escaped_set(CharSet.of([(ord(c.lower()),) * 2, (ord(c.upper()),) * 2]), False))
        else:
            parts.append(gbnf_literal(_json_escape(c)))
    return " ".join(parts) if parts else '""'


# --- regular expressions ---------------------------------------------------------------------

_DIGIT = CharSet.of([(0x30, 0x39)])
_WORD = CharSet.of([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
_SPACE = CharSet.of([(0x09, 0x0D), (0x20, 0x20)])
_CLASS_ESCAPES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_CHAR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "0": "\0"}


class _Regex:
    """A recursive-descent translation of one regular expression to a GBNF expression."""

    def __init__(self, pattern: str, dot_all: bool = False) -> None:
        self.p = pattern
        self.i = 0
        self.dot_all = dot_all

    def translate(self) -> str:
        if self.p.startswith("^"):
            self.i = 1
        expr = self.alternation()
        if self.i < len(self.p) and self.p[self.i] == "$" and self.i == len(self.p) - 1:
            self.i += 1
        if self.i != len(self.p):
            raise GrammarError(f"regex {self.p!r}: unsupported or unbalanced at position {self.i}")
        return expr

    def peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    def alternation(self) -> str:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else "(" + " | ".join(branches) + ")"

    def sequence(self) -> str:
        parts = []
        while self.peek() and self.peek() not in "|)":
            if self.peek() == "$" and self.i == len(self.p) - 1:
                break
            parts.append(self.quantified())
        return " ".join(parts) if parts else '""'

    def quantified(self) -> str:
        atom = self.atom()
        while True:
            c = self.peek()
            if c in ("*", "+", "?"):
                self.i += 1
                atom = f"({atom}){c}"
            elif c == "{" and re.match(r"\{\d+(,\d*)?\}", self.p[self.i:]):
                m = re.match(r"\{(\d+)(,(\d*))?\}", self.p[self.i:])
                assert m is not None
                self.i += m.end()
                lo, comma, hi = m.group(1), m.group(2), m.group(3)
                atom = f"({atom}){{{lo}}}" if comma is None else f"({atom}){{{lo},{hi}}}"
            else:
                return atom
            if self.peek() == "?":  # lazy: same language
                self.i += 1

    def atom(self) -> str:
        c = self.peek()
        if c == "(":
            self.i += 1
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?P<", self.i):
                end = self.p.find(">", self.i)
                if end < 0:
                    raise GrammarError(f"regex {self.p!r}: unterminated group name")
                self.i = end + 1
            elif self.peek() == "?":
                raise GrammarError(f"regex {self.p!r}: look-arounds and inline flags are not supported")
            inner = self.alternation()
            if self.peek() != ")":
                raise GrammarError(f"regex {self.p!r}: unbalanced parenthesis")
            self.i += 1
            return f"({inner})"
        if c == "[":
            return _escaped_set(*self.char_class())
        if c == ".":
            self.i += 1
            chars = CharSet.of([(0, _MAX_CODEPOINT)]) if self.dot_all else CharSet.of([(0x0A, 0x0A)]).complement()
            return _escaped_set(chars, True)
        if c == "\\":
            chars = self.escape()
            if isinstance(chars, str):
                return _escaped_literal(chars)
            return _escaped_set(*chars)
        if c in "*+?{":
            raise GrammarError(f"regex {self.p!r}: nothing to repeat at position {self.i}")
        if c in "^$":
            raise GrammarError(f"regex {self.p!r}: anchors are only supported at the ends")
        self.i += 1
        return _escaped_literal(c)

    def escape(self) -> str | tuple[CharSet, bool]:
        """After a backslash: a literal character, or a class (set, negated source)."""
        self.i += 1
        c = self.peek()
        if not c:
            raise GrammarError(f"regex {self.p!r}: trailing backslash")
        self.i += 1
        if c in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[c], False
        if c.lower() in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[c.lower()].complement(), True
        if c in _CHAR_ESCAPES:
            return _CHAR_ESCAPES[c]
        if c == "x" and re.match(r"[0-9a-fA-F]{2}", self.p[self.i:]):
            self.i += 2
            return chr(int(self.p[self.i - 2:self.i], 16))
        if c == "u" and re.match(r"[0-9a-fA-F]{4}", self.p[self.i:]):
            self.i += 4
            return chr(int(self.p[self.i - 4:self.i], 16))
        if c.isalnum():
            raise GrammarError(f"regex {self.p!r}: escape \\{c} is not supported")
        return c

    def char_class(self) -> tuple[CharSet, bool]:
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            c = self.peek()
            if not c:
                raise GrammarError(f"regex {self.p!r}: unterminated character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            lo = self.class_member()
            if isinstance(lo, CharSet):
                ranges.extend(lo.ranges)
                continue
            if self.peek() == "-" and self.p[self.i + 1:self.i + 2] not in ("]", ""):
                self.i += 1
                hi = self.class_member()
                if isinstance(hi, CharSet) or hi < lo:
                    raise GrammarError(f"regex {self.p!r}: bad range in character class")
                ranges.append((lo, hi))
            else:
                ranges.append((lo, lo))
        chars = CharSet.of(ranges)
        return (chars.complement(), True) if negated else (chars, False)

    def class_member(self) -> int | CharSet:
        c = self.peek()
        if c == "\\":
            escaped = self.escape()
            if isinstance(escaped, str):
                return ord(escaped)
            return escaped[0]
        self.i += 1
        return ord(c)


# --- Lark ------------------------------------------------------------------------------------

# Lark's common.lark terminals, as regular expressions (the ones grammars import in practice).
_COMMON = {
    "LF": r"\n", "CR": r"\r", "NEWLINE": r"(\r?\n)+", "WS": r"[ \t\f\r\n]+", "WS_INLINE": r"[ \t]+",
    "DIGIT": r"[0-9]", "HEXDIGIT": r"[a-fA-F0-9]", "INT": r"[0-9]+", "SIGNED_INT": r"[+-]?[0-9]+",
    "DECIMAL": r"[0-9]+\.[0-9]*|\.[0-9]+", "NUMBER": r"[0-9]+(\.[0-9]*)?|\.[0-9]+",
    "SIGNED_NUMBER": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", "LETTER": r"[a-zA-Z]", "UCASE_LETTER": r"[A-Z]",
    "LCASE_LETTER": r"[a-z]", "WORD": r"[a-zA-Z]+", "CNAME": r"[a-zA-Z_][a-zA-Z0-9_]*",
    "ESCAPED_STRING": r'"([^"\\\n]|\\.)*"',
}

_TOKEN = re.compile(r"""
    (?P<space>[ \t]+)
  | (?P<newline>\r?\n)
  | (?P<comment>(//|\#)[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"i?)
  | (?P<regex>/(?:[^/\\\n]|\\.)+/[imsux]*)
  | (?P<range>\.\.)
  | (?P<arrow>->)
  | (?P<directive>%[a-z]+)
  | (?P<name>[?!]?[A-Za-z_][A-Za-z0-9_]*(\.[0-9]+)?)
  | (?P<number>[0-9]+)
  | (?P<punct>[:|()\[\]?*+~.,])
""", re.VERBOSE)


def _lark_tokens(text: str) -> list[list[tuple[str, str]]]:
    """The grammar's statements, each a list of (kind, text); a line starting with ``|``
    continues the previous statement."""
    statements: list[list[tuple[str, str]]] = []
    line: list[tuple[str, str]] = []
    pos = 0

    def end_line() -> None:
        if not line:
            return
        if line[0] == ("punct", "|") and statements:
            statements[-1].extend(line)
        else:
            statements.append(list(line))
        line.clear()

    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GrammarError(f"lark grammar: unexpected character {text[pos]!r} at offset {pos}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind in ("space", "comment"):
            continue
        if kind == "newline":
            end_line()
            continue
        line.append((kind, m.group()))
    end_line()
    return statements


def _gbnf_name(prefix: str, name: str) -> str:
    kind = "t" if name.isupper() else "r"
    return f"{prefix}-{kind}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    try:
        return json.loads('"' + body + '"')
    except ValueError:
        return body.encode().decode("unicode_escape")


class _LarkRule:
    def __init__(self, tokens: list[tuple[str, str]], prefix: str, names: set[str], imported: set[str]) -> None:
        self.t = tokens
        self.i = 0
        self.prefix = prefix
        self.names = names
        self.imported = imported

    def peek(self) -> tuple[str, str]:
        return self.t[self.i] if self.i < len(self.t) else ("", "")

    def expansions(self) -> str:
        alternatives = [self.alternative()]
        while self.peek() == ("punct", "|"):
            self.i += 1
            alternatives.append(self.alternative())
        return alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")"

    def alternative(self) -> str:
        parts = []
        while self.peek()[0] and self.peek() not in (("punct", "|"), ("punct", ")"), ("punct", "]")):
            if self.peek()[0] == "arrow":  # an alias names the tree node: no effect on the language
                self.i += 2
                continue
            parts.append(self.repeated())
        return " ".join(parts) if parts else '""'

    def repeated(self) -> str:
        atom = self.atom()
        while True:
            kind, text = self.peek()
            if kind == "punct" and text in ("?", "*", "+"):
                self.i += 1
                atom = f"({atom}){text}"
            elif (kind, text) == ("punct", "~"):
                self.i += 1
                lo = self.number()
                if self.peek()[0] == "range":
                    self.i += 1
                    atom = f"({atom}){{{lo},{self.number()}}}"
                else:
                    atom = f"({atom}){{{lo}}}"
            else:
                return atom

    def number(self) -> str:
        kind, text = self.peek()
        if kind != "number":
            raise GrammarError(f"lark grammar: expected a number after '~', got {text!r}")
        self.i += 1
        return text

    def atom(self) -> str:
        kind, text = self.peek()
        self.i += 1
        if (kind, text) == ("punct", "("):
            inner = self.expansions()
            self.expect(")")
            return f"({inner})"
        if (kind, text) == ("punct", "["):
            inner = self.expansions()
            self.expect("]")
            return f"({inner})?"
        if kind == "string":
            ignore_case = text.endswith("i") and not text.endswith('"')
            value = _unquote(text[:-1] if ignore_case else text)
            if self.peek()[0] == "range":
                self.i += 1
                kind2, text2 = self.peek()
                self.i += 1
                hi = _unquote(text2) if kind2 == "string" else ""
                if len(value) != 1 or len(hi) != 1 or hi < value:
                    raise GrammarError(f"lark grammar: bad literal range {text}..{text2}")
                return _escaped_set(CharSet.of([(ord(value), ord(hi))]), False)
            return _escaped_literal(value, ignore_case)
        if kind == "regex":
            end = text.rfind("/")
            flags = set(text[end + 1:])
            if flags - {"s"}:
                raise GrammarError(f"lark grammar: regex flags {''.join(sorted(flags - {'s'}))!r} are not supported")
            return _Regex(text[1:end], dot_all="s" in flags).translate()
        if kind == "name":
            if text not in self.names and text not in self.imported:
                raise GrammarError(f"lark grammar: '{text}' is used but not defined")
            return _gbnf_name(self.prefix, text)
        raise GrammarError(f"lark grammar: unexpected {text!r}")

    def expect(self, punct: str) -> None:
        if self.peek() != ("punct", punct):
            raise GrammarError(f"lark grammar: expected {punct!r}, got {self.peek()[1]!r}")
        self.i += 1


def _lark_rules(definition: str, prefix: str) -> list[str]:
    statements = _lark_tokens(definition)
    definitions: dict[str, list[tuple[str, str]]] = {}
    imported: set[str] = set()
    for statement in statements:
        kind, text = statement[0]
        if kind == "directive":
            if text != "%import":
                raise GrammarError(f"lark grammar: {text} is not supported")
            names = [t for k, t in statement[1:] if k == "name"]
            if not names:
                raise GrammarError("lark grammar: %import without a name")
            module, _, last = names[0].partition(".")
            wanted = names[1:] if len(names) > 1 else [last]
            if module != "common" or not all(n in _COMMON for n in wanted):
                raise GrammarError(f"lark grammar: only terminals of 'common' can be imported, not {names}")
            imported.update(wanted)
            continue
        if kind != "name" or len(statement) < 2 or statement[1] != ("punct", ":"):
            raise GrammarError(f"lark grammar: expected 'name: ...', got {' '.join(t for _, t in statement)!r}")
        name = text.lstrip("?!").split(".")[0]
        if name in definitions:
            raise GrammarError(f"lark grammar: '{name}' is defined twice")
        definitions[name] = statement[2:]
    if "start" not in definitions:
        raise GrammarError("lark grammar: no 'start' rule")
    names = set(definitions)
    rules = [f"{prefix} ::= {_gbnf_name(prefix, 'start')}"]
    for name, tokens in definitions.items():
        rule = _LarkRule(tokens, prefix, names, imported)
        body = rule.expansions()
        if rule.i != len(tokens):
            raise GrammarError(f"lark grammar: unexpected {tokens[rule.i][1]!r} in '{name}'")
        rules.append(f"{_gbnf_name(prefix, name)} ::= {body}")
    for name in sorted(imported - names):
        rules.append(f"{_gbnf_name(prefix, name)} ::= {_Regex(_COMMON[name]).translate()}")
    return rules


def freeform_gbnf(syntax: str, definition: str, prefix: str) -> str:
    """GBNF rules (one per line) whose rule ``prefix`` matches the JSON-escaped text of an
    input in the language of ``definition`` (``syntax``: ``lark`` or ``regex``)."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", prefix):
        raise ValueError(f"bad rule prefix {prefix!r}")
    if syntax == "regex":
        rules = [f"{prefix} ::= {_Regex(definition).translate()}"]
    elif syntax == "lark":
        rules = _lark_rules(definition, prefix)
    else:
        raise GrammarError(f"grammar syntax must be 'lark' or 'regex', got {syntax!r}")
    return "\n".join(rules) + "\n"
