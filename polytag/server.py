"""`polytag serve`: an HTTP server (FastAPI on uvicorn: typed request handling and an OpenAPI
schema for free, and an ASGI server that runs one process per core when asked) around one
loaded model, with dynamic batching: concurrent requests wait at most `batch_wait_ms` to share
one forward pass.

    POST /v1/tag      {"sentences": [["Das", "ist", "gut", "."]]}  -> {"sentences": [{"words", "upos", "feats"}]}
                      {"text": "Raw text. More of it."}           -> {"sentences": [{"text", "tokens": [...]}]}
                      CoNLL-U (Content-Type: text/x-conllu)         -> CoNLL-U with UPOS and FEATS filled in
    GET  /v1/models   languages, size, dev scores;   GET /healthz;   GET /metrics (Prometheus);  GET /openapi.json

Limits answer with a JSON body {"error": ...}: 400 malformed input (the CLI's message, with the
line), 413 body or words over the limit, 429 queue full (with Retry-After), 504 past the
deadline, 503 while shutting down. SIGTERM: new requests get 503, requests in flight finish.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import traceback
from functools import partial
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from . import DEFAULT_MODEL, __version__
from .core.conllu_io import format_conllu, read_conllu
from .core.errors import InputError
from .core.folder import load_metadata
from .tagging import load
from .tagging.tagger import check_sentences


@dataclass
class ServerConfig:
    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int | None = None  # tagger threads
    max_body_bytes: int = 2_000_000
    max_words: int = 20_000  # per request
    max_queue_words: int = 200_000  # words waiting for the model; more: 429
    batch_wait_ms: float = 2.0  # how long a request may wait for others to share its batch (2 ms: measured)
    max_batch_words: int = 8_192
    deadline_s: float = 30.0  # per request, queueing included: 504 after it
    drain_s: float = 0.5  # after SIGTERM, answer 503 at least this long (and until requests in flight end)


class Overloaded(Exception):
    """The queue holds max_queue_words already."""


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("polytag_requests", "HTTP requests by path and status", ["path", "status"],
                                registry=self.registry)
        self.words = Counter("polytag_words", "words tagged", registry=self.registry)
        self.latency = Histogram("polytag_request_seconds", "request latency", ["path"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.queue_words = Gauge("polytag_queue_words", "words waiting for the model", registry=self.registry)
        self.batch_words = Histogram("polytag_batch_words", "words per model batch", registry=self.registry,
                                     buckets=(16, 64, 256, 1024, 4096, 16384))


class Batcher:
    """Collects concurrent requests into model batches (bounded wait), runs each in a worker thread."""

    def __init__(self, tagger, config: ServerConfig, metrics: Metrics):
        self.tagger, self.config, self.metrics = tagger, config, metrics
        self.queue: asyncio.Queue = asyncio.Queue()
        self.queued_words = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="polytag-model")

    async def tag(self, sentences: list[list[str]], x_second_best: bool,
                  treebank: str | None = None) -> tuple[list, list]:
        n = sum(map(len, sentences))
        if self.queued_words + n > self.config.max_queue_words:
            raise Overloaded
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queued_words += n
        self.metrics.queue_words.set(self.queued_words)
        self.queue.put_nowait((sentences, (x_second_best, treebank), future, n, loop.time()))
        return await future

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            words = batch[0][3]
            # A request waits at most batch_wait_ms for company, counted from its arrival: requests
            # that queued while the model was busy have waited already and go at once.
            until = batch[0][4] + self.config.batch_wait_ms / 1000
            while words < self.config.max_batch_words:
                if self.queue.empty():
                    left = until - loop.time()
                    if left <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self.queue.get(), left))
                    except TimeoutError:
                        break
                else:
                    batch.append(self.queue.get_nowait())
                words += batch[-1][3]
            self.queued_words -= words
            self.metrics.queue_words.set(self.queued_words)
            self.metrics.batch_words.observe(words)
            # requests with the same options (x_second_best, treebank hint) go to the model together
            for options in dict.fromkeys(item[1] for item in batch):
                group = [item for item in batch if item[1] == options and not item[2].done()]
                if group:
                    await self._run_group(loop, group, options)

    async def _run_group(self, loop, group, options: tuple[bool, str | None]) -> None:
        sentences = [s for item in group for s in item[0]]
        x_second_best, treebank = options
        try:
            upos, feats = await loop.run_in_executor(
                self.executor, partial(self.tagger.predict, sentences, x_second_best, treebank=treebank,
                                       documents=[len(item[0]) for item in group]))
        except Exception as err:  # noqa: BLE001 - handed to each waiting request
            for item in group:
                if not item[2].done():
                    item[2].set_exception(err)
            return
        start = 0
        for item in group:
            end = start + len(item[0])
            if not item[2].done():  # a request past its deadline is gone
                item[2].set_result((upos[start:end], feats[start:end]))
            start = end


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def json_response(content: dict) -> Response:
    """Encoded here: FastAPI would walk the nested lists through jsonable_encoder first."""
    return Response(orjson.dumps(content), media_type="application/json")


class Accounting:
    """Pure ASGI middleware (BaseHTTPMiddleware costs a task and a stream per request): 503 while
    draining, the in-flight count the drain waits for, and per-request metrics."""

    def __init__(self, app, state: dict, metrics: Metrics, paths: set[str]):
        self.app, self.state, self.metrics, self.paths = app, state, metrics, paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"] if scope["path"] in self.paths else "other"  # bounded label values
        if self.state["draining"]:
            self.metrics.requests.labels(path, "503").inc()
            return await error(503, "shutting down")(scope, receive, send)
        status = 500

        async def send_and_note(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.state["in_flight"] += 1
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.state["in_flight"] -= 1
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)


async def parse_request(request: Request, config: ServerConfig):
    """-> ("json", sentences) | ("text", text) | ("conllu", parsed CoNLL-U sentences)."""
    body = await request.body()
    if len(body) > config.max_body_bytes:
        raise PayloadTooLarge(f"request body of {len(body)} bytes (limit {config.max_body_bytes})")
    if request.headers.get("content-type", "").split(";")[0].strip() == "text/x-conllu":
        return "conllu", list(read_conllu(io.BytesIO(body), name="request"))
    try:
        data = orjson.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:  # orjson's error is a json.JSONDecodeError
        raise InputError(f"request: invalid JSON ({getattr(err, 'msg', err)})") from None
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        return "text", data["text"]
    if not isinstance(data, dict) or not isinstance(data.get("sentences"), list):
        raise InputError('request: expected {"sentences": [[word, ...], ...]} or {"text": "..."}')
    check_sentences(data["sentences"])
    return "json", data["sentences"]


class PayloadTooLarge(Exception):
    pass


def model_info(folder: Path, tagger) -> dict:
    metadata = load_metadata(folder)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return {"model": str(folder), "version": __version__, "size_bytes": size, "parameters": metadata.get("parameters"),
            "languages": metadata.get("languages", []), "dev": (metadata.get("dev_measured") or {}).get("macro"),
            "raw_text": (folder / "segmenter").is_dir(),
            "treebank_hints": tagger.treebank_hints}  # ?treebank= takes these


class TagService:
    """The handlers of /v1/tag, on one tagger and its batcher."""

    def __init__(self, tagger, config: ServerConfig, metrics: Metrics, batcher: Batcher):
        self.tagger, self.config, self.metrics, self.batcher = tagger, config, metrics, batcher

    async def tag(self, request: Request, x_second_best: bool = False, treebank: str | None = None):
        try:
            if treebank is not None:
                self.tagger.hint_row(treebank)  # an unknown id: 400 before reading the body
            kind, payload = await parse_request(request, self.config)
            if kind == "text":
                return await self.tag_raw(payload, x_second_best, treebank)
            sentences = [s.words for s in payload] if kind == "conllu" else payload
            upos, feats = await self.run(sentences, x_second_best, treebank)
        except InputError as err:
            return error(400, str(err))
        except PayloadTooLarge as err:
            return error(413, str(err))
        except Overloaded:
            return error(429, "queue full", {"Retry-After": "1"})
        except TimeoutError:
            return error(504, f"not done within {self.config.deadline_s} s")
        if kind == "conllu":
            text = "".join(format_conllu(s, u, f) for s, u, f in zip(payload, upos, feats))
            return PlainTextResponse(text, media_type="text/x-conllu")
        return json_response({"sentences": [{"words": w, "upos": u, "feats": f}
                                            for w, u, f in zip(sentences, upos, feats)]})  # fmt: skip

    async def run(self, sentences: list[list[str]], x_second_best: bool, treebank: str | None = None):
        words = sum(map(len, sentences))
        if words > self.config.max_words:
            raise PayloadTooLarge(f"request of {words} words (limit {self.config.max_words})")
        result = await asyncio.wait_for(self.batcher.tag(sentences, x_second_best, treebank), self.config.deadline_s)
        self.metrics.words.inc(words)
        return result

    async def tag_raw(self, text: str, x_second_best: bool, treebank: str | None = None) -> Response:
        from .tagging.raw import nested, segment_text, segmenter_treebank  # noqa: PLC0415

        sentences = await asyncio.get_running_loop().run_in_executor(
            None, segment_text, self.tagger.segmenter, text, "request", segmenter_treebank(self.tagger, treebank))
        upos, feats = await self.run([s.words for s in sentences], x_second_best, treebank)
        return json_response({"sentences": [nested(s, u, f) for s, u, f in zip(sentences, upos, feats)]})


class TagFastPath:
    """POST /v1/tag without a query string goes straight to its handler: the framework's
    exception, routing and dependency layers cost about as much per request as parsing the HTTP.
    The route stays registered on the app (for the OpenAPI schema and query parameters)."""

    def __init__(self, app, service: TagService):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/tag" or scope["method"] != "POST" \
                or scope["query_string"]:
            return await self.app(scope, receive, send)
        try:
            response = await self.service.tag(Request(scope, receive))
        except Exception:  # noqa: BLE001 - what the framework's error middleware would do
            traceback.print_exc()
            response = error(500, "internal error")
        await response(scope, receive, send)


def build_app(config: ServerConfig):
    """The ASGI application: FastAPI for every route, the hot path of /v1/tag beside it, and the
    accounting around both; its `.state` holds the draining flag and the in-flight count."""
    folder = Path(config.model) if config.model else DEFAULT_MODEL
    tagger = load(folder, threads=config.threads)
    metrics = Metrics()
    state = {"draining": False, "in_flight": 0}
    batcher = Batcher(tagger, config, metrics)
    service = TagService(tagger, config, metrics, batcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(batcher.run())
        yield
        task.cancel()

    app = FastAPI(title="polytag", version=__version__, summary="UPOS and UFeats tagging for 47 languages",
                  lifespan=lifespan)

    app.post("/v1/tag")(service.tag)
    app.get("/healthz")(lambda: {"status": "ok"})
    app.get("/v1/models")(lambda: model_info(folder, tagger))
    app.get("/metrics")(lambda: Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST))
    return Accounting(TagFastPath(app, service), state, metrics, {route.path for route in app.routes})


class DrainingServer(uvicorn.Server):
    """On SIGTERM/SIGINT: answer 503 to new requests, let those in flight finish, then stop."""

    def __init__(self, config: uvicorn.Config, state: dict, drain_s: float):
        super().__init__(config)
        self.polytag_state, self.drain_s = state, drain_s

    def handle_exit(self, sig, frame) -> None:
        if self.polytag_state["draining"]:
            return super().handle_exit(sig, frame)  # a second signal: stop now
        self.polytag_state["draining"] = True
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        started = time.monotonic()
        while self.polytag_state["in_flight"] or time.monotonic() - started < self.drain_s:
            time.sleep(0.01)
        self.should_exit = True


def serve(config: ServerConfig) -> None:
    app = build_app(config)
    server = DrainingServer(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                           timeout_graceful_shutdown=config.deadline_s),
                            app.state, config.drain_s)
    print(f"polytag: serving {config.model or DEFAULT_MODEL} on http://{config.host}:{config.port} "
          f"(settings: {json.dumps({k: v for k, v in asdict(config).items() if k != 'model'})})", flush=True)
    server.run()
