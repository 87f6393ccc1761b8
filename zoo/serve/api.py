"""The HTTP API (FastAPI): ``/predict``, ``/health``, ``/ready``, ``/info``, ``/metrics``, the page.

Every error answer, whatever raised it, is JSON ``{"error": "..."}`` with a status that says
whose fault it was: 400 (not UTF-8), 404/405, 408 (body too slow), 413 (a limit), 422 (not the
expected JSON), 500 (the model failed on this request; the next one is unaffected), 503 (queue
full or still loading, with ``Retry-After``). The body of ``/predict`` is read and parsed here
rather than by FastAPI, so that its size is limited before it is held in memory and each of
those faults gets its own status and message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from zoo.serve.batcher import QueueFull
from zoo.serve.limits import Limits
from zoo.serve.page import page_html
from zoo.serve.schemas import ErrorResponse, PredictRequest, PredictResponse, describe_problems
from zoo.serve.service import Service

log = logging.getLogger("zoo.serve")

#: Seconds a client is told to wait before retrying when the queue is full (``Retry-After``).
RETRY_AFTER_S = 1
ENDPOINTS = ("/", "/predict", "/health", "/ready", "/info", "/metrics", "/docs", "/openapi.json")


class RequestError(Exception):
    """A request the server will not answer with predictions; becomes ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(run: str | Path, limits: Limits | None = None, *, classifier: Any = None,
               threads: int | None = None, on_start: Callable[[Service], Any] | None = None) -> FastAPI:
    """The ASGI app serving the run in ``run``; see :func:`zoo.serve.app`.

    ``classifier``: the run, already loaded; ``on_start(service)`` is called once it is ready.
    """
    service = Service(Path(run), limits or Limits(), classifier, threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        if on_start is not None:
            on_start(service)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = FastAPI(
        title="zoo serve",
        description=f"Predictions of the zoo run {run}. Errors are JSON objects {{\"error\": \"...\"}}.",
        lifespan=lifespan,
    )
    app.state.zoo = service
    app.include_router(router)
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(AnswerMiddleware, service=service)
    return app


def _service(request: Request) -> Service:
    service: Service = request.app.state.zoo
    if not service.loaded:
        raise RequestError(503, "the model is not loaded yet (or failed to load); retry shortly",
                           {"Retry-After": str(RETRY_AFTER_S)})
    return service


# --- endpoints -------------------------------------------------------------------------------

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in [(400, "the body is not UTF-8"), (408, "the body took too long to arrive"),
                                (413, "too many texts, a text too long, or a body too large"),
                                (422, "not JSON, or not the expected fields and types"),
                                (500, "the model failed on this request"),
                                (503, "the queue is full, or the model is not loaded yet; see Retry-After")]
}


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": PredictRequest.model_json_schema()}}}},
)
async def predict(request: Request) -> Response:
    """Label each text: ``{"predictions": [{"label", "probability", "probabilities"}, ...]}`` in order."""
    service = _service(request)
    limits = service.limits
    with service.batcher.arriving() as arrival:
        body = await _read_body(request, limits)
        asked = _parse(body)
        _check_sizes(asked.texts, limits)
        if not asked.texts:
            return JSONResponse({"predictions": []})
        try:
            future = arrival.submit(asked.texts)
        except QueueFull as exc:
            return error(503, str(exc), {"Retry-After": str(RETRY_AFTER_S)})
    try:
        logits = await asyncio.wrap_future(future)
    except Exception as exc:  # noqa: BLE001 - the tokenizer or the model failed on this request's texts
        return _model_failure(exc)
    answers = service.predictions(logits, asked.top_k)
    failed = [position for position, answer in enumerate(answers) if "error" in answer]
    if failed:  # the weights overflow on these texts: no label, and a status that says the model failed
        return error(500, f"the model failed on this request: its output for text {failed[0]}"
                          f"{f' (and {len(failed) - 1} more)' if len(failed) > 1 else ''} is NaN or infinite")
    return JSONResponse({"predictions": answers})


@router.get("/health", responses={503: ERRORS[503]})
async def health(request: Request) -> dict[str, Any]:
    """Liveness: 200 once the model is loaded and its inference thread runs (``pid``: which worker)."""
    _service(request)
    return {"status": "ok", "pid": os.getpid()}


@router.get("/ready", responses={503: ERRORS[503]})
async def ready(request: Request) -> dict[str, Any]:
    """Readiness: 200 when a request would be accepted now (loaded, queue not full); ``waiting``:
    texts queued, ``scoring``: texts of the batch being scored."""
    batcher = _service(request).batcher
    if not batcher.has_room():
        raise RequestError(503, f"the queue is full ({batcher.waiting} texts waiting)",
                           {"Retry-After": str(RETRY_AFTER_S)})
    return {"status": "ready", "waiting": batcher.waiting, "scoring": batcher.scoring}


@router.get("/info")
async def info(request: Request) -> dict[str, Any]:
    """The run: name, task, labels, recorded test metrics, parameters, spec, versions, limits."""
    return _service(request).info


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests by endpoint and status, latency, batch sizes, queue."""
    content, media_type = request.app.state.zoo.metrics.exposition()
    return Response(content, media_type=media_type)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(page_html())


# --- reading a request ---------------------------------------------------------------------------


async def _read_body(request: Request, limits: Limits) -> bytes:
    """The body, refused (413) as soon as it exceeds ``max_body_bytes``, or after ``body_timeout_s`` (408)."""
    too_large = RequestError(413, f"the request body exceeds {limits.max_body_bytes:,} bytes (max_body_bytes)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise too_large

    chunks, size = [], 0
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise RequestError(408, f"the request body did not arrive within {limits.body_timeout_s:g} s") from None
    return b"".join(chunks)


def _parse(body: bytes) -> PredictRequest:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(422, f"the body is not JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of 5,000 digits, nesting too deep
        raise RequestError(422, f"the body is not JSON that can be read: {type(exc).__name__}: {exc}") from None
    try:
        return PredictRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestError(422, describe_problems(exc.errors(include_url=False))) from None


def _check_sizes(texts: list[str], limits: Limits) -> None:
    if len(texts) > limits.max_texts:
        raise RequestError(413, f"{len(texts):,} texts in one request; at most {limits.max_texts:,} (max_texts)")
    for position, text in enumerate(texts):
        if len(text) > limits.max_chars:
            raise RequestError(413, f"text {position} has {len(text):,} characters; at most "
                                    f"{limits.max_chars:,} per text (max_chars)")


def _model_failure(exc: Exception) -> JSONResponse:
    log.error("the model failed on a request", exc_info=exc)
    return error(500, f"the model failed on this request: {type(exc).__name__}: {exc}")


# --- errors as JSON ----------------------------------------------------------------------------


async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
    return error(exc.status, str(exc), exc.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    messages = {404: f"no such endpoint: {request.url.path}; the endpoints are {', '.join(ENDPOINTS)}",
                405: f"{request.method} is not allowed on {request.url.path}"}
    message = messages.get(exc.status_code, str(exc.detail))
    return error(exc.status_code, message, getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error(422, describe_problems(exc.errors()))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, f"internal error: {type(exc).__name__}")


# --- every answer ------------------------------------------------------------------------------


class AnswerMiddleware:
    """Every HTTP answer passes here (plain ASGI: cheap): it is counted by endpoint and status
    and timed, and once the server is shutting down it says ``Connection: close``.

    uvicorn closes each kept-alive connection after its last answer without saying so, and a
    client that sends its next request in the meantime gets a reset instead of an answer;
    told, it opens a new connection (to another instance, behind a load balancer).
    """

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.service.draining:
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path, root = scope["path"], scope.get("root_path", "")
            path = (path[len(root):] if root and path.startswith(root) else path) or "/"
            endpoint = path if path in ENDPOINTS else "other"
            metrics = self.service.metrics
            metrics.requests.labels(endpoint, str(status)).inc()
            metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
