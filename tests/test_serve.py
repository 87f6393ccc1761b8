"""``zoo serve``: a real server process on a free loopback port, real HTTP, a tiny made-up run.

One run is trained once for the module. A second run directory is the same model under an
encoder type from a test plugin that raises on any review of exactly ``FAILING_LENGTH`` tokens
(a model that fails on some requests) and takes a second over one of ``SLOW_LENGTH`` tokens,
so that a test can hold the inference thread busy while it queues requests behind it.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="zoo serve needs the serve extra: pip install -e '.[serve]'")
httpx = pytest.importorskip("httpx", reason="the serving tests need httpx (the test extra)")

from serving import TIME_LIMIT, Server  # noqa: E402
from zoo.testing import FILLER_WORDS, NEGATIVE_WORDS, POSITIVE_WORDS, smoke_train  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
FAILING_LENGTH, SLOW_LENGTH = 47, 53
FRAGILE_PLUGIN = f'''
"""An LSTM encoder that raises on a review of {FAILING_LENGTH} tokens and is slow on one of {SLOW_LENGTH}."""
import time

from zoo import hookimpl
from _zoo_builtins.encoders import RecurrentConfig


def build(config, input_size):
    from _zoo_builtins.recurrent import build_lstm

    encoder = build_lstm(config, input_size)
    forward = encoder.forward

    def fragile(x, lengths):
        if bool((lengths == {FAILING_LENGTH}).any()):
            raise RuntimeError("fragile encoder: a review of {FAILING_LENGTH} tokens")
        if bool((lengths == {SLOW_LENGTH}).any()):
            time.sleep(1.0)
        return forward(x, lengths)

    encoder.forward = fragile
    return encoder


@hookimpl
def register_components(registry):
    registry.register("encoder", "fragile", config=RecurrentConfig, factory=build)
'''
FAILING_TEXT, SLOW_TEXT = " ".join(["ta"] * FAILING_LENGTH), " ".join(["lo"] * SLOW_LENGTH)
#: Small limits, so that every limit can be reached with small requests.
LIMITS = ["--max-texts", "8", "--max-chars", "3000", "--max-body-bytes", "30000"]


def texts(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct made-up texts of 2 to 30 words."""
    rng = random.Random(seed)
    words = POSITIVE_WORDS + NEGATIVE_WORDS + FILLER_WORDS
    return [f"{i} " + " ".join(rng.choices(words, k=rng.randint(2, 30))) for i in range(count)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    summary = smoke_train(None, root, ["model.embedding.dim=8", "model.encoder.hidden_size=16",
                                       "model.head.hidden_sizes=[16]", "train.optimizer.lr=0.01"], epochs=3)
    return Path(summary["run_dir"])


@pytest.fixture(scope="module")
def reference(run_dir):
    """What ``zoo.load(RUN).predict`` says, text by text."""
    import zoo

    classifier = zoo.load(run_dir)
    return lambda items, top_k=None: classifier.predict(items, top_k=top_k)


@pytest.fixture(scope="module")
def server(run_dir):
    with Server(run_dir, *LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with server.client() as http:
        yield http


@pytest.fixture(scope="module")
def fragile(run_dir, tmp_path_factory) -> dict:
    """The same model as an encoder of the test plugin ``fragile_plugin``, and the env to load it."""
    root = tmp_path_factory.mktemp("fragile")
    (root / "fragile_plugin.py").write_text(FRAGILE_PLUGIN)
    run = root / "run"
    shutil.copytree(run_dir, run)
    spec = (run / "spec.yaml").read_text()
    (run / "spec.yaml").write_text(spec.replace("type: lstm", "type: fragile", 1))
    recorded = json.loads((run / "run.json").read_text())
    del recorded["components"]["encoder/lstm"]
    recorded["components"]["encoder/fragile"] = {"plugin": "fragile_plugin", "distribution": None, "version": None}
    (run / "run.json").write_text(json.dumps(recorded))
    return {"run": run, "env": {"PYTHONPATH": str(root), "ZOO_PLUGINS": "fragile_plugin"}}


@pytest.fixture(scope="module")
def fragile_server(fragile):
    """The fragile model, batches of 16 texts at most, a queue of 4."""
    with Server(fragile["run"], "--max-batch", "16", "--max-queue", "4", env=fragile["env"]) as running:
        yield running


@contextmanager
def model_busy(server: Server):
    """While inside, the inference thread scores the slow text; yields its answer's future."""
    with ThreadPoolExecutor(1) as pool, server.client() as http:
        slow = pool.submit(post, http, {"texts": [SLOW_TEXT]})
        server.wait_until(lambda client: client.get("/ready").json()["scoring"] == 1, "the slow text to be scored")
        yield slow
        assert slow.result(TIME_LIMIT).status_code == 200


def metric(http, name: str) -> float:
    return float(re.search(rf"^{name} (\S+)", http.get("/metrics").text, re.M).group(1))


def batches(http) -> float:
    return metric(http, "zoo_batch_texts_count")


def queued(count: int):
    """A ``wait_until`` predicate: ``count`` texts wait in the queue."""
    return lambda http: metric(http, "zoo_queue_texts") == count


def post(client, body, url: str = "/predict") -> httpx.Response:
    if isinstance(body, (dict, list)):
        return client.post(url, json=body)
    return client.post(url, content=body, headers={"content-type": "application/json"})


def assert_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str)
    for fragment in fragments:
        assert fragment in body["error"]


def same_predictions(answers: list[dict], expected: list[dict]) -> bool:
    assert len(answers) == len(expected)
    for answer, wanted in zip(answers, expected):
        assert answer["label"] == wanted["label"]
        assert answer["probability"] == pytest.approx(wanted["probability"], rel=1e-5)
        assert list(answer["probabilities"]) == list(wanted["probabilities"])
        assert answer["probabilities"] == pytest.approx(wanted["probabilities"], rel=1e-5)
    return True


# --- endpoints ---------------------------------------------------------------------------------


def test_predict_answers_every_text_in_order_as_zoo_load_predicts(client, reference):
    sent = texts(7) + ["", "zapfy " * 200]
    response = post(client, {"texts": sent[:8]})
    assert response.status_code == 200
    assert same_predictions(response.json()["predictions"], reference(sent[:8]))
    assert response.json()["predictions"][0].keys() == {"label", "probability", "probabilities"}
    assert post(client, {"texts": []}).json() == {"predictions": []}


def test_top_k_keeps_the_most_probable_labels(client, reference):
    sent = texts(3)
    one = post(client, {"texts": sent, "top_k": 1}).json()["predictions"]
    assert same_predictions(one, reference(sent, top_k=1))
    assert all(len(p["probabilities"]) == 1 and p["label"] in p["probabilities"] for p in one)
    every = post(client, {"texts": sent, "top_k": 10**9}).json()["predictions"]
    assert same_predictions(every, reference(sent))
    for bad in (0, -1, "2", 2.0, True):
        assert_error(post(client, {"texts": sent, "top_k": bad}), 422, "top_k")


def test_health_ready_info(client, run_dir):
    health = client.get("/health").json()
    assert health["status"] == "ok" and isinstance(health["pid"], int)
    assert client.get("/ready").json() == {"status": "ready", "waiting": 0, "scoring": 0}
    info = client.get("/info").json()
    summary = json.loads((run_dir / "summary.json").read_text())
    run = json.loads((run_dir / "run.json").read_text())
    assert info["name"] == "smoke"
    assert info["labels"] == ["neg", "pos"] and info["task"] == {"type": "binary", "labels": ["neg", "pos"]}
    assert info["test_metrics"] == summary["test"]
    assert info["parameters"] == summary["parameters"]
    assert info["spec"]["model"]["encoder"]["type"] == "lstm"
    assert info["versions"]["trained_with"] == run
    assert info["versions"]["serving"]["components"]["encoder/lstm"]["plugin"] == "builtin-encoders"
    assert {"zoo", "torch", "python"} <= info["versions"]["serving"].keys()
    assert info["limits"]["max_texts"] == 8 and info["limits"]["max_batch"] == 64


def test_metrics_count_requests_by_status_and_batches(client):
    post(client, {"texts": ["a"]})
    post(client, b"not json")
    text = client.get("/metrics").text
    assert re.search(r'^zoo_requests_total\{endpoint="/predict",status="200"\} [1-9]', text, re.M)
    assert re.search(r'^zoo_requests_total\{endpoint="/predict",status="422"\} [1-9]', text, re.M)
    assert re.search(r'^zoo_request_seconds_bucket\{endpoint="/predict",le="\+Inf"\} [1-9]', text, re.M)
    assert re.search(r"^zoo_batch_texts_count [1-9]", text, re.M)
    assert re.search(r"^zoo_texts_total [1-9]", text, re.M)
    assert re.search(r"^zoo_queue_texts 0\.0", text, re.M)


def test_answers_on_a_kept_alive_connection_come_at_once(client):
    """Were Nagle's algorithm on, each answer would wait some 40 ms for a delayed acknowledgement."""
    times = []
    for _ in range(20):
        start = time.perf_counter()
        assert client.get("/health").status_code == 200
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.03, times


def test_the_listening_socket_is_tcp_so_asyncio_turns_nagle_off():
    """asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP (uvloop on all)."""
    from zoo.serve.server import _listen

    listener = _listen("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()


def test_docs_openapi_and_unknown_routes(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["texts"]
    assert_error(client.get("/nowhere"), 404, "/nowhere", "/predict")
    assert_error(client.get("/predict"), 405, "GET")


def test_the_page_is_self_contained(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text)  # no external assets
    assert 'fetch(path' in response.text and '"predict"' in response.text and '"info"' in response.text


def test_the_readme_example_mounts_the_app_under_a_prefix(run_dir, reference):
    """The README's Python example, run as written (its run path replaced), in a real uvicorn."""
    import threading

    import uvicorn

    from zoo.serve.server import _listen

    section = README.read_text(encoding="utf-8").split("## Serving", 1)[1].split("\n## ", 1)[0]
    code = next(block for block in re.findall(r"```python\n(.*?)```", section, re.S) if ".mount(" in block)
    namespace: dict = {}
    exec(code.replace('"runs/recipes/imdb-lstm"', repr(str(run_dir))), namespace)
    listener = _listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(namespace["api"], log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + TIME_LIMIT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=TIME_LIMIT) as http:
            answer = post(http, {"texts": ["glonk zapfy"]}, url="/sentiment/predict")
            assert same_predictions(answer.json()["predictions"], reference(["glonk zapfy"]))
            assert '"predict"' in http.get("/sentiment/").text  # the page, asking relative to its own address
            assert http.get("/sentiment/info").json()["limits"]["max_batch"] == 32
            metrics = http.get("/sentiment/metrics").text
            assert 'zoo_requests_total{endpoint="/predict",status="200"} 1.0' in metrics
    finally:
        server.should_exit = True
        thread.join(TIME_LIMIT)
        listener.close()


# --- many clients at once --------------------------------------------------------------------------


def test_concurrent_clients_each_get_their_own_answers(server, reference):
    sent = texts(96, seed=1)
    expected = reference(sent)
    requests = [sent[i : i + 1 + i % 3] for i in range(0, len(sent), 3)]

    def ask(items: list[str]) -> list[dict]:
        with server.client() as http:
            response = post(http, {"texts": items})
            assert response.status_code == 200, response.text
            return response.json()["predictions"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, requests))
    for items, answer in zip(requests, answers):
        first = sent.index(items[0])
        assert same_predictions(answer, expected[first : first + len(items)])


def test_requests_that_wait_together_are_scored_in_one_batch(fragile_server, reference):
    sent = texts(4, seed=2)
    with fragile_server.client() as http, ThreadPoolExecutor(4) as pool:
        before = batches(http)
        with model_busy(fragile_server):
            futures = [pool.submit(post, http, {"texts": [text]}) for text in sent]
            fragile_server.wait_until(queued(4), "4 queued texts")
        answers = [future.result(TIME_LIMIT) for future in futures]
        assert batches(http) == before + 2  # the slow text's, then the 4 that queued behind it
    for text, answer in zip(sent, answers):
        assert same_predictions(answer.json()["predictions"], reference([text]))


# --- limits and bad requests -------------------------------------------------------------------------


def test_limits_are_413_with_the_limit_named(client):
    assert_error(post(client, {"texts": ["a"] * 9}), 413, "9 texts", "at most 8", "max_texts")
    assert_error(post(client, {"texts": ["a", "b" * 3001]}), 413, "text 1", "3,001 characters", "max_chars")
    assert post(client, {"texts": ["b" * 3000]}).status_code == 200
    assert_error(post(client, {"texts": ["b" * 40_000]}), 413, "30,000 bytes", "max_body_bytes")

    def chunks():  # no Content-Length: the limit holds while the body streams in
        yield b'{"texts": ["'
        for _ in range(100):
            yield b"c" * 1000
        yield b'"]}'

    assert_error(post(client, chunks()), 413, "max_body_bytes")
    assert client.get("/health").status_code == 200


def test_headers_are_bounded(server, client):
    """uvicorn's h11 parser refuses a megabyte of headers (httptools would take any amount)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIME_LIMIT) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("body, status, fragment", [
    (b'{"texts": ["caf\xe9"]}', 400, "not UTF-8"),
    (b"", 422, "not JSON"),
    (b'{"texts": ["a"]', 422, "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, 413, "max_body_bytes"),
    (b"[" * 10_000 + b"]" * 10_000, 422, "RecursionError"),
    (b'{"texts": ["a"], "top_k": 1' + b"0" * 5000 + b"}", 422, "not JSON"),
    (b'["a", "b"]', 422, "JSON object"),
    (b'"a"', 422, "JSON object"),
    (b"{}", 422, "texts: Field required"),
    (b'{"text": ["a"]}', 422, "text: unknown field"),
    (b'{"texts": "a film"}', 422, "texts: Input should be a valid list"),
    (b'{"texts": [1, 2.5]}', 422, "texts.0: Input should be a valid string"),
    (b'{"texts": [["nested"]]}', 422, "texts.0"),
    (b'{"texts": [{"a": {"b": [1]}}]}', 422, "texts.0"),
    (b'{"texts": null}', 422, "texts"),
    (b'{"texts": ["a", null]}', 422, "texts.1"),
])
def test_bad_requests_get_a_status_and_a_json_error(client, body, status, fragment):
    assert_error(post(client, body), status, fragment)


def test_a_full_queue_is_503_with_retry_after(fragile_server):
    with fragile_server.client() as http, ThreadPoolExecutor(1) as pool:
        with model_busy(fragile_server):
            filling = pool.submit(post, http, {"texts": texts(4)})
            fragile_server.wait_until(lambda client: client.get("/ready").status_code == 503, "the queue to fill")
            refused = post(http, {"texts": ["one more"]})
            assert_error(refused, 503, "4 texts are waiting", "max_queue")
            assert refused.headers["retry-after"] == "1"
        assert filling.result(TIME_LIMIT).status_code == 200
        assert http.get("/ready").status_code == 200


def test_a_request_the_model_fails_on_is_500_and_the_others_are_answered(fragile_server, reference):
    good = texts(2, seed=3)
    with fragile_server.client() as http, ThreadPoolExecutor(3) as pool:
        before = batches(http)
        with model_busy(fragile_server):  # so that the three are scored in one batch
            futures = [pool.submit(post, http, {"texts": items}) for items in ([good[0]], [good[1], FAILING_TEXT],
                                                                               [good[1]])]
            fragile_server.wait_until(queued(4), "4 queued texts")
        answers = [future.result(TIME_LIMIT) for future in futures]
        assert batches(http) == before + 3  # the slow text's, then the two good requests again, alone
        assert_error(answers[1], 500, "the model failed on this request", "RuntimeError", "fragile encoder")
        for answer, text in ((answers[0], good[0]), (answers[2], good[1])):
            assert answer.status_code == 200
            assert same_predictions(answer.json()["predictions"], reference([text]))
        assert post(http, {"texts": good}).status_code == 200
    assert "fragile encoder" in fragile_server.stderr  # logged with its traceback


def test_a_model_output_that_is_nan_or_infinite_is_a_500_that_says_so(run_dir, tmp_path):
    """Weights that overflow on every text: the server answered 500 'internal error: ValueError'
    (the NaN probabilities could not be written as JSON)."""
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import save_file

    run = tmp_path / "overflowing"
    shutil.copytree(run_dir, run)
    best = run / "checkpoints" / "best.safetensors"
    with safe_open(str(best), "np") as weights:
        metadata, tensors = weights.metadata(), {name: weights.get_tensor(name) for name in weights.keys()}
    last = sorted(name for name in tensors if name.endswith(".weight"))[-1]  # the head's output layer
    tensors[last] = np.full_like(tensors[last], 3e38)
    save_file(tensors, str(best), metadata=metadata)
    with Server(run) as running, running.client() as http:
        assert_error(post(http, {"texts": ["zapfy", "a film"]}), 500,
                     "the model failed on this request: its output for text 0 (and 1 more) is NaN or infinite")
        assert http.get("/health").status_code == 200


# --- the page in a real browser -----------------------------------------------------------------------


def test_the_page_in_a_headless_browser(server, reference, tmp_path):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("no browser: the page test needs Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the page test needs selenium (the test extra)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,900"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        browser.set_page_load_timeout(60)
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: b.find_element(By.ID, "model").text == "smoke")
        assert "neg, pos" in browser.find_element(By.ID, "about").text
        assert "accuracy" in browser.find_element(By.ID, "metrics").text
        review = "Glonk zapfy brivel, a sunmo film"
        browser.find_element(By.ID, "text").send_keys(review)
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda b: b.find_element(By.ID, "result").is_displayed())
        bars = {row.get_attribute("data-label"): float(row.get_attribute("data-probability"))
                for row in browser.find_elements(By.CSS_SELECTOR, "#bars .row")}
        label = browser.find_element(By.ID, "label").text
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        browser.quit()
    expected = reference([review])[0]
    assert label == expected["label"]
    assert bars == pytest.approx(expected["probabilities"], rel=1e-5)
    assert (tmp_path / "page.png").stat().st_size > 1000


# --- lifecycle -----------------------------------------------------------------------------------------


def test_sigterm_answers_the_requests_in_flight_then_exits_0(fragile, reference):
    sent = texts(3, seed=4)
    with Server(fragile["run"], env=fragile["env"]) as running, ThreadPoolExecutor(3) as pool:
        with model_busy(running) as slow:

            def ask(text: str) -> httpx.Response:
                with running.client() as http:
                    return post(http, {"texts": [text]})

            futures = [pool.submit(ask, text) for text in sent]
            running.wait_until(queued(3), "3 queued texts")
            running.send(signal.SIGTERM)
            running.send(signal.SIGTERM)  # a second SIGTERM (an impatient supervisor) changes nothing
            answers = [slow.result(TIME_LIMIT)] + [future.result(TIME_LIMIT) for future in futures]
        assert running.stop() == 0, running.stderr
        with pytest.raises(httpx.ConnectError):
            httpx.get(running.url + "/health", timeout=5)
    for text, answer in zip([SLOW_TEXT, *sent], answers):
        assert answer.status_code == 200
        assert answer.headers["connection"] == "close"  # so the client does not send more on it
        assert same_predictions(answer.json()["predictions"], reference([text]))
    assert "Traceback" not in running.stderr


def test_two_workers_each_load_the_model_and_share_metrics(run_dir, reference):
    sent = texts(12, seed=5)
    with Server(run_dir, "--workers", "2") as running:
        pids = set()
        deadline = time.monotonic() + TIME_LIMIT
        while len(pids) < 2 and time.monotonic() < deadline:
            with running.client() as http:  # a new connection each time: either worker may take it
                response = http.get("/health")
                if response.status_code == 200:
                    pids.add(response.json()["pid"])
        assert len(pids) == 2
        with running.client() as http, ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda text: post(http, {"texts": [text]}), sent))
        for text, answer in zip(sent, answers):
            assert same_predictions(answer.json()["predictions"], reference([text]))
        with running.client() as http:
            metrics = http.get("/metrics").text
        assert re.search(r'^zoo_requests_total\{endpoint="/predict",status="200"\} 12\.0', metrics, re.M)
        assert "2 workers" in running.stderr
        assert running.stop() == 0, running.stderr


def test_a_started_worker_freezes_what_it_loaded_and_drains_on_signals():
    """zoo serve's start hook: gc.freeze() (a full collection over torch's objects stalled every
    request for a quarter second), and SIGTERM/SIGINT mark the service draining, then run the
    handler that was in place (uvicorn's)."""
    import gc
    from types import SimpleNamespace

    from zoo.serve.server import _started

    calls = []
    before = {sig: signal.signal(sig, lambda number, frame: calls.append(number))
              for sig in (signal.SIGINT, signal.SIGTERM)}
    service = SimpleNamespace(draining=False)
    try:
        _started(service)
        assert gc.get_freeze_count() > 10_000
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        assert service.draining and calls == [signal.SIGTERM]
    finally:
        gc.unfreeze()
        for sig, handler in before.items():
            signal.signal(sig, handler)


def test_the_cli_starts_without_the_server_packages():
    """``zoo --help`` and ``zoo list`` build the parser, serve verb included, without FastAPI or torch."""
    code = ("import sys, zoo.cli; zoo.cli.build_parser(); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'prometheus_client', 'torch') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIME_LIMIT)
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("threads", [0, -2, True, "4"])
def test_the_python_app_refuses_a_thread_count_when_called(run_dir, threads):
    """zoo.serve.app(threads=0) was accepted, then torch's RuntimeError stopped the app's start-up."""
    import zoo.serve
    from zoo.errors import ZooError

    with pytest.raises(ZooError, match=f"serve setting threads must be a whole number of at least 1, not {threads!r}"):
        zoo.serve.app(run_dir, threads=threads)


def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(tmp_path):
    """The socket refuses a port above 65535 with an OverflowError; the parser must refuse it first."""
    result = subprocess.run([sys.executable, "-m", "zoo", "serve", str(tmp_path), "--port", "70000"],
                            capture_output=True, text=True, timeout=TIME_LIMIT)
    assert result.returncode == 2, result.stderr
    assert "--port: must be a whole number from 0 to 65535, not '70000'" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_up_errors_are_one_line_and_exit_2(run_dir, fragile, tmp_path):
    incomplete = tmp_path / "incomplete"
    shutil.copytree(run_dir, incomplete)
    (incomplete / "checkpoints" / "best.safetensors").unlink()
    shadow = tmp_path / "shadow"
    (shadow / "fastapi").mkdir(parents=True)
    (shadow / "fastapi" / "__init__.py").write_text("raise ImportError('not installed')")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = str(busy.getsockname()[1])
    cases = {
        "no run": ([str(tmp_path / "nothing")], {}, "no such run directory"),
        "no checkpoint": ([str(incomplete)], {}, "best.safetensors: no checkpoint"),
        "plugin missing": ([str(fragile["run"])], {}, "encoder 'fragile' from plugin fragile_plugin"),
        "port in use": ([str(run_dir), "--port", port], {}, f"cannot listen on 127.0.0.1:{port}"),
        "no serve extra": ([str(run_dir)], {"PYTHONPATH": str(shadow)}, "pip install 'rnn-zoo[serve]'"),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    processes = {name: subprocess.Popen([sys.executable, "-m", "zoo", "serve", *args],
                                        env={**base, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for name, (args, env, _) in cases.items()}
    try:
        for name, process in processes.items():
            out, err = process.communicate(timeout=TIME_LIMIT)
            message = err.decode()
            assert process.returncode == 2, (name, message)
            assert message.startswith("error: ") and cases[name][2] in message, (name, message)
            assert "Traceback" not in message and out == b"", name
    finally:
        busy.close()
        for process in processes.values():
            process.kill()
