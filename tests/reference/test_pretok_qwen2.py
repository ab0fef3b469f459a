#!/usr/bin/python3
"""genc's "qwen2" pre-tokenizer (src/lm/tok_qwen2.c, the default) against the regex genc
writes into tokenizer.json for it, run by the `regex` module (python3-regex): Qwen2's regex
with the case-insensitive contractions spelt out in ASCII, as llama.cpp runs it:

    (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}
    | ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+

Hand-picked texts (contractions in both cases, digit runs, space runs before words and digits,
tabs, CR LF and newline runs after punctuation and inside whitespace, NBSP and ideographic
space, combining marks, other-script digits, emoji with ZWJ, CJK) and 6,000 random texts from
a mix of those and of random code points: the chunk byte lengths must be equal. genc caps
chunks at 64 bytes; texts whose regex chunks are longer are left out (and counted).
Usage: test_pretok_qwen2.py <genc-binary> <build-dir>."""
import random
import sys

from pretok_check import compare, random_text

try:
    import regex
except ImportError:
    print("test_pretok_qwen2: SKIP (python3-regex missing)")
    sys.exit(77)

PAT = regex.compile(r"""(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
                    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
FIXED = [
    "Hello world", "don't stop, WE'LL've it's I'M 'S 'Re 'x", "a  b   c\t\td\n\n e", "   leading", "trailing   ",
    "In 2024 we counted 365 days;  x1y2", "caf\u00e9 na\u00efve", "e\u0301t\u00e9", "\u0661\u0662\u0663 \u00b2\u2167",
    "\u6771\u4eac\u306e\u5929\u6c17", "Party \U0001f389\U0001f973 \U0001f468\u200d\U0001f469!", "a\u00a0b \u3000c",
    "x\u2028y\u2029z", "''s ''", "?!... ---", " \n", "\n", " ", "", "end.'", "'ll", "\U0001d400\U0001d401 \U0001d7ce",
    "tab\t\tword", "\r\n\r\nline", "   \u00a0\u00a0x", "12,345.67", "\u00ab\u00bb\u2014 \u201cq\u201d",
    "end.\n\nNext", "a \n  b", "x \r\n \t\n  y", "(word) [x]", "\tword\n\tnext", "f(x)=2*y;\n", "  \n\n  ",
    "<think>2+3</think>", "x\x0b\x0cy", "\u0085z",
]
POOL = (list("abcXYZ019 '\t\n\r.,!?-()\"<>/") + ["'s", "'t", "'re", "'ve", "'ll", "'d", "'m", "'S", "'LL", "'Re",
        "  ", "   ", "\r\n", "\n\n", "\u00a0", "\u3000", "\u00e9", "e\u0301", "\u4e2d", "\u6587", "\u0661", "\u00b2",
        "\u2167", "\U0001f600", "\u200d", "\u00ab", "\u2014", "\U0001d400", "\u0915\u093f", "\u05d0"])


def main():
    rng = random.Random(8)
    texts = FIXED + [random_text(rng, POOL) for _ in range(6000)]
    return compare("test_pretok_qwen2", sys.argv[2], PAT, texts, "qwen2", "Qwen2's regex", 5000)


if __name__ == "__main__":
    sys.exit(main())
