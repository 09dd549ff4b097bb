"""harness.github against a loopback fake of GitHub's REST API: one comment per pull
request found again by its marker, the nightly's issue, pages, errors in one line."""
from __future__ import annotations

import pytest

from _rngdrift.harness import cli, github
from _rngdrift.harness.errors import UserError
from fakegithub import REPO, TOKEN, FakeGitHub


@pytest.fixture
def api(monkeypatch):
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.delenv("GH_TOKEN", raising=False)
        yield fake


def test_the_comment_is_made_once_then_edited_in_place(api):
    client = github.Client.from_env()
    # someone else's comments first, over two pages of 100
    api.comments[7] = [{"id": i, "body": f"lgtm {i}"} for i in range(150)]
    assert github.upsert_comment(client, 7, "**1 broken**")[0] == "created"
    assert github.upsert_comment(client, 7, "**nothing changes**")[0] == "updated"
    ours = [c for c in api.comments[7] if github.MARKER in c["body"]]
    assert len(ours) == 1 and ours[0]["body"] == f"{github.MARKER}\n**nothing changes**"
    assert len(api.comments[7]) == 151
    listed = [call for call in api.calls if call[0] == "GET"]
    assert len(listed) == 4  # two pages for each run


def test_the_drift_issue_is_opened_once_then_commented(api):
    client = github.Client.from_env()
    api.issues.append({"number": 1, "title": "something else", "body": "", "state": "open"})
    assert github.open_or_comment(client, "rngdrift nightly: changed", "night 1") == ("opened", 2)
    assert github.open_or_comment(client, "rngdrift nightly: changed", "night 2") == (
        "commented", 2)
    assert api.comments[2][0]["body"] == "night 2" and len(api.issues) == 2


def test_a_long_body_is_cut_to_what_github_accepts():
    text = github.fit("line\n" * 20000, limit=1000)
    assert len(text) <= 1000 and text.endswith("the whole text is in the job summary)_\n")
    assert github.fit("short") == "short"


def test_a_bad_token_or_no_token_is_one_line(api, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    with pytest.raises(UserError) as info:
        github.upsert_comment(github.Client.from_env(), 7, "x")
    assert str(info.value) == (f"GitHub API GET {api.url}/repos/{REPO}/issues/7/comments: "
                               "401 Unauthorized; Bad credentials; the token is not valid")
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(UserError, match="no GitHub token: set GITHUB_TOKEN"):
        github.Client.from_env()


def test_an_api_that_is_not_there_is_one_line(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    client = github.Client(REPO, TOKEN, "http://127.0.0.1:9")
    with pytest.raises(UserError, match=r"GitHub API GET http://127.0.0.1:9/repos/.*refused"):
        github.open_or_comment(client, "t", "b")


def test_rngdrift_ci_comment_and_issue(api, tmp_path, capsys):
    body = tmp_path / "check.md"
    body.write_text("# rngdrift check\n")
    assert cli.main(["ci", "comment", "--pr", "3", "--body-file", str(body)]) == 0
    assert cli.main(["ci", "comment", "--pr", "3", "--body-file", str(body)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("rngdrift ci: created the comment on #3: ")
    assert out[1].startswith("rngdrift ci: updated the comment on #3: ")
    assert cli.main(["ci", "issue", "--title", "drift", "--body-file", str(body)]) == 0
    assert capsys.readouterr().out == "rngdrift ci: opened issue #1\n"
    assert cli.main(["ci", "comment", "--pr", "3", "--body-file", str(tmp_path / "none")]) == 2
    assert "cannot read" in capsys.readouterr().err
