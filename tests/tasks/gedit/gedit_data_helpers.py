"""Helpers of the gedit tests: GEdit-Bench-format datasets and a local chat server."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def _png(color, size=(24, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def gedit_rows() -> list[dict]:
    """Six rows over three task types, two languages, with and without intersection."""
    rows = []
    spec = [("color_alter", "en", True), ("color_alter", "cn", True), ("subject-add", "en", False),
            ("subject-add", "cn", True), ("tone_transfer", "en", True), ("background_change", "en", False)]  # fmt: skip
    for i, (task, lang, inter) in enumerate(spec):
        rows.append({
            "task_type": task,
            "key": f"k{i:02d}",
            "instruction": f"edit number {i}" if lang == "en" else f"编辑 {i}",
            "instruction_language": lang,
            "input_image": {"bytes": _png((10 * i, 0, 0)), "path": None},
            "input_image_raw": {"bytes": _png((10 * i, 0, 0), size=(48, 32)), "path": None},
            "Intersection_exist": inter,
        })  # fmt: skip
    return rows


def dataset(rows):
    import datasets

    features = datasets.Features({
        "task_type": datasets.Value("string"), "key": datasets.Value("string"),
        "instruction": datasets.Value("string"), "instruction_language": datasets.Value("string"),
        "input_image": datasets.Image(), "input_image_raw": datasets.Image(),
        "Intersection_exist": datasets.Value("bool"),
    })  # fmt: skip
    return datasets.Dataset.from_list(rows, features=features)


def make_parquet(path, rows):
    """Write ``rows`` as a GEdit-format parquet file (for error cases)."""
    dataset(rows).to_parquet(str(path))
    return path


class LocalChatServer:
    """OpenAI-style chat server on 127.0.0.1: scripted (status, content) replies; records requests."""

    def __init__(self, script, model=None):
        self.script = list(script)
        self.model = model  # the served model name replies carry (None: no "model" field)
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(
                    {"path": self.path, "auth": self.headers["Authorization"], "body": body}
                )
                status, content = server.script.pop(0)
                reply = {"choices": [{"message": {"role": "assistant", "content": content}}]}
                if server.model:
                    reply["model"] = server.model
                data = json.dumps(
                    reply if status == 200 else {"error": {"message": content}}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
