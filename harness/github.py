"""GitHub's REST API, from the standard library (urllib): the one comment the pull-request
check keeps up to date, and the issue the nightly opens or comments on.

    client = Client.from_env()                       # GITHUB_TOKEN (or GH_TOKEN),
                                                     # GITHUB_REPOSITORY, GITHUB_API_URL
    upsert_comment(client, 42, body)                 # -> ("created" | "updated", its URL)
    open_or_comment(client, title, body)             # -> ("opened" | "commented", number)

Nothing here needs the ``gh`` CLI: a runner image that happens to carry it is not
something to depend on. A comment is found again by a hidden marker in its body
(``<!-- rngdrift-check -->``), so re-runs of the check edit the same comment instead
of adding one per push. Every failure (no token, 401/403/404, network) is a UserError
with one line naming the request.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

from .errors import UserError

API = "https://api.github.com"
MARKER = "<!-- rngdrift-check -->"
MAX_BODY = 65536         # GitHub refuses a comment or issue body longer than this
MAX_PAGES = 20           # 2,000 comments or open issues looked through at most
TIMEOUT = 30


@dataclasses.dataclass(frozen=True)
class Client:
    repo: str            # owner/name
    token: str
    api: str = API

    @classmethod
    def from_env(cls, repo: str | None = None) -> "Client":
        token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
        repo = repo or os.environ.get("GITHUB_REPOSITORY")
        if not token:
            raise UserError("no GitHub token: set GITHUB_TOKEN (in a workflow: "
                            "GITHUB_TOKEN: ${{ github.token }})")
        if not repo or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise UserError(f"repository {repo!r}: expected owner/name (GITHUB_REPOSITORY)")
        return cls(repo, token, (os.environ.get("GITHUB_API_URL") or API).rstrip("/"))

    def request(self, method: str, path: str, body: dict | None = None,
                params: dict | None = None) -> tuple[object, dict]:
        """(the JSON answer, the response headers) of one API call."""
        url = path if "://" in path else f"{self.api}/repos/{self.repo}{path}"
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "rngdrift",
            **({"Content-Type": "application/json"} if data else {})})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                text = response.read().decode("utf-8")
                return (json.loads(text) if text else None), dict(response.headers)
        except urllib.error.HTTPError as exc:
            raise UserError(f"GitHub API {method} {_short(url)}: {exc.code} "
                            f"{_message(exc)}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(f"GitHub API {method} {_short(url)}: {reason}") from None
        except ValueError:
            raise UserError(f"GitHub API {method} {_short(url)}: the answer is not JSON") \
                from None

    def pages(self, path: str, params: dict | None = None):
        """Every item of a listing, following its ``Link: <...>; rel="next"`` pages."""
        url, query = path, {"per_page": 100, **(params or {})}
        for _ in range(MAX_PAGES):
            items, headers = self.request("GET", url, params=query)
            yield from items or []
            found = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link", ""))
            if not found:
                return
            url, query = found[1], None


def _short(url: str) -> str:
    return url.split("?")[0]


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        said = json.loads(exc.read().decode("utf-8")).get("message", "")
    except (ValueError, AttributeError, OSError):
        said = ""
    hint = {401: "the token is not valid", 403: "the token may not do this (permissions: "
            "pull-requests: write, issues: write)", 404: "no such repository, pull "
            "request or issue, or the token cannot see it"}.get(exc.code, "")
    return "; ".join(filter(None, [exc.reason, said, hint]))


def fit(body: str, limit: int = MAX_BODY) -> str:
    """``body`` cut to what GitHub accepts, saying so at the end."""
    if len(body) <= limit:
        return body
    note = "\n\n_(cut to fit a GitHub comment; the whole text is in the job summary)_\n"
    return body[:limit - len(note)].rsplit("\n", 1)[0] + note


def upsert_comment(client: Client, number: int, body: str,
                   marker: str = MARKER) -> tuple[str, str]:
    """Create the one comment of pull request (or issue) ``number`` that carries
    ``marker``, or edit it when a previous run made it. Returns (what was done, URL)."""
    text = fit(f"{marker}\n{body}")
    for comment in client.pages(f"/issues/{int(number)}/comments"):
        if marker in (comment.get("body") or ""):
            done, _ = client.request("PATCH", f"/issues/comments/{comment['id']}",
                                     {"body": text})
            return "updated", (done or {}).get("html_url", "")
    done, _ = client.request("POST", f"/issues/{int(number)}/comments", {"body": text})
    return "created", (done or {}).get("html_url", "")


def open_or_comment(client: Client, title: str, body: str) -> tuple[str, int]:
    """Comment on the open issue titled ``title``, or open one. Returns (what was done,
    the issue's number)."""
    for issue in client.pages("/issues", {"state": "open"}):
        if issue.get("title") == title and "pull_request" not in issue:
            client.request("POST", f"/issues/{issue['number']}/comments", {"body": fit(body)})
            return "commented", int(issue["number"])
    made, _ = client.request("POST", "/issues", {"title": title, "body": fit(body)})
    return "opened", int((made or {}).get("number", 0))
