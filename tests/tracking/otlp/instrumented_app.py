"""A small WSGI shop instrumented with OpenTelemetry's SDK, exporting over OTLP/HTTP.

Nothing here names the receiver: the exporters read ``OTEL_EXPORTER_OTLP_ENDPOINT`` and
``OTEL_EXPORTER_OTLP_HEADERS`` from the environment, and the resource ``OTEL_SERVICE_NAME``
and ``OTEL_RESOURCE_ATTRIBUTES``, as in a deployed service. ``--protocol`` picks the
protobuf or the JSON exporter. The app serves until its standard input closes, then
flushes both exporters and exits.

    python -m tests.tracking.otlp.instrumented_app --port 8000 --protocol http/protobuf
"""

import argparse
import logging
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

logger = logging.getLogger("shop.checkout")


def shop(environ: dict, start_response) -> list[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/checkout/fail"):
        logger.error("checkout failed: card declined")
        start_response("500 Internal Server Error", [("Content-Type", "text/plain"), ("Content-Length", "6")])
        return [b"failed"]
    if path.startswith("/missing"):
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]
    body = b"item " + path.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def exporters(protocol: str):
    if protocol == "http/json":
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter(), OTLPLogExporter()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--protocol", choices=["http/protobuf", "http/json"], default="http/protobuf")
    options = parser.parse_args()
    resource = Resource.create()
    span_exporter, log_exporter = exporters(options.protocol)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    logger.propagate = False
    app = OpenTelemetryMiddleware(shop, tracer_provider=tracer_provider)
    server = make_server("127.0.0.1", options.port, app, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
    server.shutdown()
    tracer_provider.shutdown()
    logger_provider.shutdown()


if __name__ == "__main__":
    main()
