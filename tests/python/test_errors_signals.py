"""Errors become the right exceptions with genc's message; a signal during a long C call
raises KeyboardInterrupt and leaves a valid checkpoint; other threads run meanwhile; a
Python training loop can be stepped with pdb."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import genc
from conftest import small_lm


def test_missing_file_is_oserror():
    with pytest.raises(OSError, match="nope.safetensors"):
        genc.load("/nonexistent/nope.safetensors")
    with pytest.raises(OSError):
        genc.LanguageModel.load("/nonexistent/model.safetensors")
    with pytest.raises(OSError):
        genc.Tokenizer("/nonexistent/tok.safetensors")


def test_malformed_file_is_valueerror(tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ValueError, match="bad.safetensors"):
        genc.load(str(p))


def test_bad_config_and_arguments():
    with pytest.raises(ValueError, match="preset"):
        genc.LMCore("enormous")
    with pytest.raises(ValueError, match="unknown config"):
        genc.LanguageModel("tiny", no_such_field=3)
    with pytest.raises(TypeError):
        genc.AdamW([1, 2])
    with pytest.raises(ValueError, match="rows"):
        genc.cross_entropy(genc.randn(3, 4), [1, 2])
    with pytest.raises(ValueError):
        genc.embedding(genc.randn(4, 2), [7])  # id outside the table


def test_ctrl_c_during_fit_raises_and_leaves_a_valid_checkpoint(corpus, tmp_path):
    tok, ids = corpus
    lm = small_lm(tok)
    ck = str(tmp_path / "ck.safetensors")
    ticks = []
    stop = threading.Event()

    def other_thread():  # keeps running while fit holds no GIL
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    def interrupt():
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)

    th = threading.Thread(target=other_thread)
    th.start()
    threading.Thread(target=interrupt).start()
    t0 = time.time()
    with pytest.raises(KeyboardInterrupt):
        lm.fit(np.array(ids, dtype=np.int32), steps=1_000_000, batch=4, seq=32, checkpoint=ck)
    stop.set()
    th.join()
    assert time.time() - t0 < 30
    assert len(ticks) > 50  # the other thread ran during training
    meta = genc.load_metadata(ck)  # the interrupted run's checkpoint is complete and valid
    assert '"step"' in meta["train_state"]
    back = genc.LanguageModel.load(ck)
    assert np.array_equal(np.asarray(back._core.named_tensors[0][1]), np.asarray(lm._core.named_tensors[0][1]))


def test_pdb_steps_a_python_training_loop(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(
        "import genc\n"
        "lin = genc.Linear(3, 1)\n"
        "opt = genc.SGD(lin.parameters(), lr=0.1)\n"
        "for step in range(3):\n"
        "    loss = lin(genc.ones(2, 3)).square().mean()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "print('done')\n")
    cmds = "break 6\ncontinue\np step, loss.shape\np lin.fc if False else repr(lin)\nnext\nnext\np loss.item() >= 0\ncontinue\ncontinue\ncontinue\n"
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "pdb", str(script)], input=cmds, capture_output=True, text=True,
                       env=env, timeout=60)
    assert "(0, ())" in r.stdout and "Linear(3 -> 1)" in r.stdout and "True" in r.stdout, r.stdout + r.stderr


def test_other_threads_run_during_a_python_driven_training_step(corpus):
    tok, ids = corpus
    lm = genc.LanguageModel("tiny", vocab_size=tok.vocab_size)
    batch = np.array(ids[:16 * 129], dtype=np.int32).reshape(16, 129)
    ticks, stop = [], threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    lm.loss(batch)[0].backward()  # warm up
    th = threading.Thread(target=count)
    th.start()
    t0 = time.perf_counter()
    for _ in range(3):
        loss, _ = lm.loss(batch)  # forward and backward release the GIL
        loss.backward()
    t1 = time.perf_counter()
    stop.set()
    th.join()
    inside = [t for t in ticks if t0 <= t <= t1]
    assert len(inside) > 0.2 * (t1 - t0) / 0.0005 * 0.1, (len(inside), t1 - t0)
