"""``zoo predict RUN -`` streams: bounded memory whatever stdin holds, answers as it reads
(issue 20, item 5)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from plugin_packages import peak_mb, plugin_env, start_zoo_measured

CHUNK = b"zapfy mudge " * 87_382  # ~1 MiB of one line


def test_a_huge_stdin_is_answered_line_by_line_in_bounded_memory(tiny_run):
    """A 256 MiB line then 2,000 short ones, written to zoo's stdin as it reads them; its peak
    memory stays near what predicting one text takes (~360 MB)."""
    process = start_zoo_measured("predict", str(tiny_run), "-", "--json")

    def feed() -> None:
        try:
            for _ in range(256):
                process.stdin.write(CHUNK)
            process.stdin.write(b"\n" + b"ta zapfy lo\n" * 1_999 + b"\xff\xfe not UTF-8\n")
        finally:
            process.stdin.close()

    errors: list[bytes] = []
    threading.Thread(target=feed, daemon=True).start()
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    answers = [json.loads(line) for line in process.stdout]  # JSON Lines, one per stdin line
    process.wait(timeout=120)
    reader.join(timeout=60)  # stderr is read to its end in that thread: wait for it
    stderr, peak = peak_mb(errors[0])
    assert process.returncode == 1, stderr  # the last line is not UTF-8
    assert len(answers) == 2_001
    assert answers[0]["label"] in ("neg", "pos") and len(answers[0]["text"]) == 100_000
    assert "line 1 is longer than 100,000 characters (--max-chars); only its first 100,000 are used" in stderr
    assert {answer["text"] for answer in answers[1:-1]} == {"ta zapfy lo"}
    assert answers[-1] == {"text": None, "error": "line 2001: not UTF-8 (invalid start byte at byte 0)"}
    print(f"peak memory of zoo predict: {peak:.0f} MB")
    assert peak < 620  # holding the long line once would already take ~620 MB


def test_answers_come_while_stdin_is_still_open(tiny_run):
    """A batch of lines is answered before stdin ends (a pipe from a slow producer)."""
    process = subprocess.Popen([sys.executable, "-m", "zoo", "predict", str(tiny_run), "-", "--json"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=plugin_env())
    first: list[bytes] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)
    try:
        process.stdin.write(b"ta zapfy\n" * 256)  # one batch
        process.stdin.flush()
        reader.start()
        reader.join(timeout=60)  # stdin is still open
        assert first, "no answer before stdin ended"
        answer = json.loads(first[0])
        assert answer["text"] == "ta zapfy" and answer["label"] in ("neg", "pos")
    finally:
        process.stdin.close()
        reader.join(timeout=60)
        process.stdout.read()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_a_reader_that_closes_the_pipe_ends_zoo_quietly(tiny_run):
    """``zoo predict RUN - --json | head -1``: once the reader has gone, zoo stops without a
    BrokenPipeError traceback (exit status 1, as for a table)."""
    process = subprocess.Popen([sys.executable, "-m", "zoo", "predict", str(tiny_run), "-", "--json"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=plugin_env())
    process.stdout.close()  # the reader has gone before the first answer
    _, stderr = process.communicate(b"ta zapfy\n" * 3_000, timeout=120)
    assert process.returncode == 1
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr, stderr.decode()


def test_a_closed_stdin_is_one_message(tiny_run):
    """``zoo predict RUN - <&-``: no stdin to read is a message and exit status 2, not a traceback."""
    result = subprocess.run([sys.executable, "-m", "zoo", "predict", str(tiny_run), "-", "--json"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=plugin_env(),
                            timeout=120, preexec_fn=lambda: __import__("os").close(0))
    assert result.returncode == 2, result.stderr
    assert "stdin, which is closed or not readable" in result.stderr and "Traceback" not in result.stderr


def test_a_stdin_opened_for_writing_is_one_message(tiny_run, tmp_path):
    """``zoo predict RUN - 0>file``: a stdin that cannot be read is a message, not an OSError traceback."""
    with open(tmp_path / "out.txt", "wb") as write_only:
        result = subprocess.run([sys.executable, "-m", "zoo", "predict", str(tiny_run), "-", "--json"],
                                stdin=write_only, capture_output=True, text=True, env=plugin_env(), timeout=120)
    assert result.returncode == 2, result.stderr
    assert "stdin, which cannot be read" in result.stderr and "Traceback" not in result.stderr
