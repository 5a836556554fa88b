"""A fake OpenAI-compatible chat server on localhost for the tests of the optional model reader: it
records each request and answers with what the test's `answer` function returns for it (a dict is
sent as the message's JSON content, a string as the content itself); `hold` makes it wait until
released, as a model that does not answer in time."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeModel:
    def __init__(self, answer: Callable[[dict[str, Any]], dict[str, Any] | str]) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []  # what the sale asked: the user message's JSON
        self.release = threading.Event()
        self.hold = False
        self.url = ""

    @contextmanager
    def running(self) -> Iterator[FakeModel]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server calls it by this name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                asked = json.loads(body["messages"][-1]["content"])
                fake.requests.append(asked)
                if fake.hold:
                    fake.release.wait()
                answer = fake.answer(asked)
                content = answer if isinstance(answer, str) else json.dumps(answer)
                message = {"role": "assistant", "content": content}
                reply = json.dumps({"choices": [{"message": message}]}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the time-out test): nobody to answer

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release.set()
            server.shutdown()
            server.server_close()
