import pytest

import pyllm

ROUND_TRIP_TEXTS = [
    "Hello, world! 123",
    "  leading and trailing spaces  ",
    "line one\nline two\ttabbed",
    "日本語のテキストと中文文本",
    "emoji 🦙🚀 and a family 👨‍👩‍👧",
    "mixed: café, naïve, Ελληνικά, русский",
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_round_trip(model: pyllm.Model, text: str):
    tokens = model.tokenize(text)
    assert tokens
    assert model.detokenize(tokens) == text


def test_special_tokens_parse_and_render(model: pyllm.Model):
    text = "<start_of_turn>user\nHi<end_of_turn>\n"
    tokens = model.tokenize(text, parse_special=True)
    start = model.tokenize("<start_of_turn>", parse_special=True)
    assert len(start) == 1
    assert tokens[0] == start[0]
    assert model.detokenize(tokens) == text
    # Rendering special tokens can be turned off: their text disappears.
    assert model.detokenize(tokens, render_special=False) == "user\nHi\n"


def test_special_text_is_plain_text_without_parse_special(model: pyllm.Model):
    tokens = model.tokenize("<start_of_turn>", parse_special=False)
    assert len(tokens) > 1
    assert model.detokenize(tokens) == "<start_of_turn>"


def test_add_special_prepends_bos(model: pyllm.Model):
    plain = model.tokenize("Hi")
    with_bos = model.tokenize("Hi", add_special=True)
    assert model.add_bos
    assert with_bos[1:] == plain
    assert model.detokenize(with_bos[:1]) == model.bos_token == "<bos>"


def test_empty_text(model: pyllm.Model):
    assert model.tokenize("") == []
    assert model.detokenize([]) == ""


def test_out_of_vocabulary_token_is_a_clear_error(model: pyllm.Model):
    with pytest.raises(IndexError, match="outside the vocabulary"):
        model.detokenize([model.n_vocab])
    with pytest.raises(IndexError, match="outside the vocabulary"):
        model.detokenize([-1])
