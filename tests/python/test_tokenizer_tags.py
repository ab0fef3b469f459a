"""Tokenizer tag modes from Python: Tokenizer.train(..., tags='text') reads <think> and
<answer> as ordinary text (never the special ids 259..262), the mode survives save/load,
and a bad mode is a ValueError."""
import pytest

import genc

TEXT = "<kori> the sea was calm </kori> <answer>4</answer> <think> a </think>\n" * 100


def test_text_tags_encode_as_text(tmp_path):
    t = genc.Tokenizer.train(TEXT, vocab_size=300, tags="text")
    assert t.tags == "text"
    ids = t.encode("<think>x</think><answer>1</answer><|eos|>")
    assert not any(259 <= i <= 262 for i in ids) and ids[-1] == 257
    assert t.decode(ids) == "<think>x</think><answer>1</answer><|eos|>"
    t.save(str(tmp_path / "t.safetensors"))
    assert genc.Tokenizer(str(tmp_path / "t.safetensors")).tags == "text"


def test_default_tags_are_special():
    t = genc.Tokenizer.train(TEXT, vocab_size=300)
    assert t.tags == "special" and t.encode("<think>")[0] == 259


def test_bad_tags():
    with pytest.raises(ValueError, match="expected 'special' or 'text'"):
        genc.Tokenizer.train(TEXT, tags="html")
