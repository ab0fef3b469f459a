"""pytest setup for genc's Python tests: import genc from the build tree named by GENC_BUILD
(CTest sets it), else from PYTHONPATH or an installed package; one thread, a fixed seed per
test.

A test that calls pytest.skip makes the whole run exit 77, which CTest shows as skipped
(SKIP_RETURN_CODE), or 1 under GENC_REQUIRE_DEPS=1 (make test), where every dependency is
required: a skip then means something the set-up installs is missing."""
import os
import sys

import pytest

# CTest sets GENC_BUILD (and PYTHONPATH); otherwise genc comes from PYTHONPATH or an install.
_build = os.environ.get("GENC_BUILD")
if _build and os.path.isdir(os.path.join(_build, "python")) and os.path.join(_build, "python") not in sys.path:
    sys.path.insert(0, os.path.join(_build, "python"))

import genc  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    if exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        required = os.environ.get("GENC_REQUIRE_DEPS") == "1"
        print("\n%d test(s) skipped%s" % (len(skipped), ": a required dependency is missing (GENC_REQUIRE_DEPS=1)"
                                          if required else " (exit 77: CTest shows the run as skipped)"))
        session.exitstatus = 1 if required else 77


@pytest.fixture(autouse=True)
def _seed():
    genc.manual_seed(1234)
    genc.set_threads(1)
    yield


@pytest.fixture(scope="session")
def corpus():
    """Token ids and a tokenizer trained on 100 KB of Debian's fortunes (or a fallback text)."""
    path = "/usr/share/games/fortunes/fortunes"
    text = open(path, encoding="latin-1").read()[:100000] if os.path.exists(path) else (
        "the quick brown fox jumps over the lazy dog. " * 2000)
    tok = genc.Tokenizer.train(text, 320)
    return tok, tok.encode(text)


def small_lm(tok):
    return genc.LanguageModel("tiny", tokenizer=tok, vocab_size=tok.vocab_size, max_position_embeddings=128)
