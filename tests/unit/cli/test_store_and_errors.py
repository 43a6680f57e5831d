"""The token file (0600, keyed by API URL), error responses -> exit codes, and the streamed multipart body."""

import io
import json
import os
import stat

import pytest
import requests
from werkzeug.formparser import parse_form_data

from ai3d.client import (
    CliError,
    MultipartFile,
    TokenStore,
    api_error,
    config_dir,
    exit_code_for,
    s3_error,
)


def test_config_dir_follows_xdg(config_home, monkeypatch, tmp_path):
    assert config_dir() == config_home / "ai3d"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "ai3d"


def test_tokens_are_private_and_keyed_by_api(config_home):
    store = TokenStore()
    store.save("http://a:1", {"email": "a@x.io", "accessToken": "A", "refreshToken": "RA"})
    store.save("http://b:2", {"email": "b@x.io", "accessToken": "B", "refreshToken": "RB"})
    path = config_home / "ai3d" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.get("http://a:1")["accessToken"] == "A" and store.get("http://b:2")["refreshToken"] == "RB"
    store.delete("http://a:1")
    assert store.get("http://a:1") is None and set(json.loads(path.read_text())) == {"http://b:2"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_rewriting_a_loosened_file_makes_it_private_again(config_home):
    store = TokenStore()
    store.save("http://a:1", {"accessToken": "A", "refreshToken": "R"})
    os.chmod(store.path, 0o644)
    store.save("http://a:1", {"accessToken": "A2", "refreshToken": "R2"})
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_corrupt_token_file_is_an_auth_error(config_home):
    store = TokenStore()
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(CliError) as caught:
        store.get("http://a:1")
    assert caught.value.exit_code == 3 and str(store.path) in caught.value.message


@pytest.mark.parametrize(
    "status, code", [(400, 2), (401, 3), (402, 1), (403, 4), (404, 4), (409, 1), (413, 2), (429, 1), (500, 1), (503, 1)]
)
def test_exit_codes_by_status(status, code):
    assert exit_code_for(status) == code


def _response(status: int, body: bytes, reason: str = "") -> requests.Response:
    response = requests.Response()
    response.status_code, response._content, response.reason = status, body, reason
    return response


def test_api_errors_keep_the_code_and_message():
    error = api_error(_response(404, b'{"error": {"code": "NOT_FOUND", "message": "job not found"}}'))
    assert (error.exit_code, error.code, error.status, str(error)) == (4, "NOT_FOUND", 404, "job not found (NOT_FOUND)")
    plain = api_error(_response(502, b"<html>Bad gateway</html>", "Bad Gateway"))
    assert (plain.exit_code, plain.code, str(plain)) == (1, None, "the server answered 502 Bad Gateway")


def test_s3_errors_are_read_from_their_xml():
    body = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Policy expired.</Message></Error>"
    error = s3_error(_response(403, body))
    assert error.code == "AccessDenied" and "Policy expired." in error.message and error.exit_code == 1


def test_multipart_body_streams_fields_then_the_file(tmp_path):
    data = os.urandom(100_000)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    seen = []
    chunks = []
    with open(path, "rb") as handle:
        body = MultipartFile(
            {"key": "uploads/k", "Content-Type": "video/mp4", "policy": "abc="},
            handle,
            len(data),
            'we"ird.mp4',
            "video/mp4",
            on_read=seen.append,
        )
        while chunk := body.read(8192):
            chunks.append(chunk)
    raw = b"".join(chunks)
    assert len(raw) == len(body) and sum(seen) == len(data)
    assert max(len(c) for c in chunks) <= 8192
    _, form, files = parse_form_data(
        {
            "wsgi.input": io.BytesIO(raw),
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": body.content_type,
            "REQUEST_METHOD": "POST",
        }
    )
    assert dict(form) == {"key": "uploads/k", "Content-Type": "video/mp4", "policy": "abc="}
    assert files["file"].read() == data and files["file"].content_type == "video/mp4"
    assert raw.rindex(b'name="file"') > raw.rindex(b'name="policy"')  # S3 ignores fields after the file


def test_multipart_read_all_at_once(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG" * 10)
    with open(path, "rb") as handle:
        body = MultipartFile({"key": "k"}, handle, 40, "a.png", "image/png")
        raw = body.read()
        assert len(raw) == len(body) and body.read() == b""
