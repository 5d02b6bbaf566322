"""`polytag serve`: the real server process on a free loopback port, talked to over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("fastapi")

SENTENCES = [["Sue", "likes", "coffee", "."], ["Мама", "мыла", "раму", "."], ["Das", "ist", "gut", "."]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model, *options):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "polytag.cli", "serve", "--model", str(model), "--port", str(self.port),
             "--threads", "1", *map(str, options)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.process.stderr.read()}")

    def request(self, method: str, path: str, body: bytes | None = None, content_type="application/json"):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), dict(err.headers)

    def get(self, path: str):
        return self.request("GET", path)

    def tag(self, sentences, **extra):
        return self.request("POST", "/v1/tag", json.dumps({"sentences": sentences, **extra}).encode())

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    running = Server(tiny_model_dir)
    yield running
    running.stop()


def expected(tiny_model_dir, sentences):
    from polytag.tagging import load  # noqa: PLC0415

    upos, feats = load(tiny_model_dir, backend="torch").predict(sentences)
    return [{"words": w, "upos": u, "feats": f} for w, u, f in zip(sentences, upos, feats)]


def test_endpoints(server, tiny_model_dir):
    status, body, _ = server.tag(SENTENCES)
    assert status == 200 and json.loads(body)["sentences"] == expected(tiny_model_dir, SENTENCES)
    assert server.get("/healthz")[:2] == (200, '{"status":"ok"}')
    status, body, _ = server.get("/v1/models")
    assert status == 200 and json.loads(body)["model"] == str(tiny_model_dir) and json.loads(body)["size_bytes"] > 0
    status, body, _ = server.get("/openapi.json")
    assert status == 200 and "/v1/tag" in json.loads(body)["paths"]
    status, body, headers = server.get("/metrics")
    assert status == 200 and 'polytag_requests_total{path="/v1/tag",status="200"}' in body
    assert "polytag_request_seconds_bucket" in body and "polytag_queue_words" in body
    server.get("/no/such/path")
    assert 'path="other",status="404"' in server.get("/metrics")[1]  # unknown paths: one label value


def test_the_fast_path_and_the_framework_route_answer_alike(server):
    body = json.dumps({"sentences": SENTENCES}).encode()
    fast = server.request("POST", "/v1/tag", body)
    routed = server.request("POST", "/v1/tag?x_second_best=false", body)  # a query string: FastAPI's route
    assert fast[0] == routed[0] == 200 and json.loads(fast[1]) == json.loads(routed[1])
    assert server.request("POST", "/v1/tag?x_second_best=maybe", body)[0] == 422


def test_conllu_in_conllu_out(server):
    conllu = "# sent_id = 1\n1\tDas\t_\t_\t_\t_\t0\troot\t_\t_\n2\tist\t_\t_\t_\t_\t1\tcop\t_\t_\n\n"
    status, body, headers = server.request("POST", "/v1/tag", conllu.encode(), "text/x-conllu")
    assert status == 200 and headers["content-type"].startswith("text/x-conllu")
    rows = [line.split("\t") for line in body.splitlines() if line and not line.startswith("#")]
    assert [r[1] for r in rows] == ["Das", "ist"] and all(r[3] != "_" for r in rows)
    assert body.startswith("# sent_id = 1\n")


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"{not json", "application/json", "request: invalid JSON"),
    (b'{"sentences": [["a", ""]]}', "application/json", "sentence 0, word 1: empty word"),
    (b'{"words": []}', "application/json", "expected {"),
    (b"1\ta\t_\t_\n\n", "text/x-conllu", "request:1: expected 10 tab-separated columns, got 4"),
])
def test_malformed_input_is_400_with_the_clis_message(server, body, content_type, message):
    status, text, _ = server.request("POST", "/v1/tag", body, content_type)
    assert status == 400 and message in json.loads(text)["error"]


def test_concurrent_clients_get_their_own_results(server, tiny_model_dir):
    requests = [[[f"w{i}", "likes", "coffee"] * (1 + i % 3)] for i in range(24)]
    results = [None] * len(requests)

    def call(i):
        results[i] = server.tag(requests[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for sentences, (status, body, _) in zip(requests, results):
        assert status == 200 and json.loads(body)["sentences"] == expected(tiny_model_dir, sentences)


def test_limits(tiny_model_dir):
    limited = Server(tiny_model_dir, "--max-body-bytes", 300, "--max-words", 6, "--max-queue-words", 8,
                     "--batch-wait-ms", 400, "--deadline-s", 5)
    try:
        assert limited.tag([["a"] * 7])[0] == 413
        status, body, _ = limited.request("POST", "/v1/tag", json.dumps({"sentences": [["a"] * 200]}).encode())
        assert status == 413 and "request body of" in json.loads(body)["error"]
        results = []
        threads = [threading.Thread(target=lambda: results.append(limited.tag([["a", "b", "c", "d", "e"]])))
                   for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.1)  # the first waits 400 ms for company, its 5 words queued; 5 more do not fit in 8
        for t in threads:
            t.join()
        codes = sorted(r[0] for r in results)
        assert codes == [200, 429]
        assert next(r for r in results if r[0] == 429)[2]["retry-after"] == "1"
    finally:
        limited.stop()
    slow = Server(tiny_model_dir, "--batch-wait-ms", 1000, "--deadline-s", 0.2)
    try:
        status, body, _ = slow.tag([["a"]])
        assert status == 504 and "not done within 0.2 s" in json.loads(body)["error"]
    finally:
        slow.stop()


def test_sigterm_finishes_requests_in_flight_and_refuses_new_ones(tiny_model_dir):
    server = Server(tiny_model_dir, "--batch-wait-ms", 500, "--drain-s", 1.5)
    results = []
    worker = threading.Thread(target=lambda: results.append(server.tag(SENTENCES)))
    worker.start()
    time.sleep(0.2)  # in flight: waiting 500 ms for company
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    late = server.tag(SENTENCES)
    worker.join()
    assert results[0][0] == 200 and late[0] == 503 and "shutting down" in late[1]
    assert server.process.wait(timeout=30) == 0


def test_each_request_may_carry_its_own_treebank_hint(tiny_model_dir, tmp_path):
    """?treebank= per request: concurrent requests with different hints are batched apart and each
    gets what the tagger gives with its hint; an unknown id is a 400 naming the known ones."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from helpers import hinted_copy  # noqa: PLC0415

    from polytag.tagging import load  # noqa: PLC0415

    folder = hinted_copy(tiny_model_dir, tmp_path / "hints")
    local = load(folder, backend="torch")
    want = {hint: local.predict(SENTENCES, treebank=hint) for hint in (None, "xx_test", "yy_other")}
    assert want["xx_test"] != want["yy_other"]
    running = Server(folder, "--batch-wait-ms", "50")
    try:
        body = json.dumps({"sentences": SENTENCES}).encode()
        paths = ["/v1/tag", "/v1/tag?treebank=xx_test", "/v1/tag?treebank=yy_other"] * 3
        with ThreadPoolExecutor(len(paths)) as pool:
            answers = list(pool.map(lambda path: running.request("POST", path, body), paths))
        for path, (status, text, _) in zip(paths, answers):
            hint = path.partition("=")[2] or None
            got = json.loads(text)["sentences"]
            assert status == 200
            assert ([s["upos"] for s in got], [s["feats"] for s in got]) == tuple(map(list, want[hint])), path
        assert json.loads(running.get("/v1/models")[1])["treebank_hints"] == ["xx_test", "yy_other"]
        status, text, _ = running.request("POST", "/v1/tag?treebank=zz_none", body)
        assert status == 400 and "unknown (this model knows xx_test, yy_other)" in json.loads(text)["error"]
    finally:
        running.stop()
