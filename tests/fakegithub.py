"""A loopback fake of the part of GitHub's REST API rngdrift talks to: issue comments
(listed in pages of ``per_page`` with ``Link`` headers, created, edited) and issues
(listed, opened). Requests are recorded; a token other than ``TOKEN`` gets a 401.

    with FakeGitHub() as api:        # api.url for GITHUB_API_URL
        api.comments[7] = [...]      # seed state; api.calls: [(method, path), ...]
"""
from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "test-token"
REPO = "team/segmentation"


class FakeGitHub:
    def __init__(self):
        self.comments: dict[int, list[dict]] = {}
        self.issues: list[dict] = []
        self.calls: list[tuple[str, str]] = []
        self.next_id = 1000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, payload=None, headers=()):
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                url = urllib.parse.urlsplit(self.path)
                fake.calls.append((method, url.path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"message": "Bad credentials"})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                query = dict(urllib.parse.parse_qsl(url.query))
                status, payload, headers = fake.route(method, url.path, query, body,
                                                      f"http://{self.headers['Host']}")
                self._send(status, payload, headers)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PATCH(self):
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _page(self, items, path, query, host):
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        chunk = items[(page - 1) * per_page:page * per_page]
        headers = []
        if page * per_page < len(items):
            more = dict(query, page=page + 1)
            headers.append(("Link", f'<{host}{path}?{urllib.parse.urlencode(more)}>; rel="next"'))
        return 200, chunk, headers

    def route(self, method, path, query, body, host):
        prefix = f"/repos/{REPO}"
        if not path.startswith(prefix):
            return 404, {"message": "Not Found"}, []
        rest = path[len(prefix):]
        parts = rest.strip("/").split("/")
        if parts[:1] == ["issues"] and len(parts) == 3 and parts[2] == "comments":
            number = int(parts[1])
            if method == "GET":
                return self._page(self.comments.get(number, []), path, query, host)
            comment = {"id": self._new_id(), "body": body["body"],
                       "html_url": f"https://github.example/{REPO}/pull/{number}#c"}
            self.comments.setdefault(number, []).append(comment)
            return 201, comment, []
        if parts[:2] == ["issues", "comments"] and method == "PATCH":
            for comments in self.comments.values():
                for comment in comments:
                    if comment["id"] == int(parts[2]):
                        comment["body"] = body["body"]
                        return 200, comment, []
            return 404, {"message": "Not Found"}, []
        if parts == ["issues"]:
            if method == "GET":
                wanted = [i for i in self.issues if i["state"] == query.get("state", "open")]
                return self._page(wanted, path, query, host)
            issue = {"number": len(self.issues) + 1, "title": body["title"],
                     "body": body["body"], "state": "open"}
            self.issues.append(issue)
            return 201, issue, []
        return 404, {"message": "Not Found"}, []
