"""The API's JSON: Chinese stays readable, refusals speak the reader's language."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

ClientFor = Callable[[str], Client]


def test_chinese_names_are_sent_unescaped(api_client: ClientFor) -> None:
    response = api_client("command").get("/api/v1/units")

    raw = response.content.decode("utf-8")
    assert "区住房和城乡建设局" in raw
    assert "\\u" not in raw


def test_refusal_is_chinese_by_default_and_english_on_request(api_client: ClientFor) -> None:
    client = api_client("command")

    chinese = client.post("/api/v1/cases", "{bad", content_type="application/json")
    english = client.post(
        "/api/v1/cases", "{bad", content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert chinese.status_code == english.status_code == 400
    assert chinese.json()["detail"] == "请求体不是有效的 JSON。"
    assert english.json()["detail"] == "The body is not valid JSON."
    assert "parse request body" in english.json()["errors"][0]["message"]


def test_unknown_api_path_is_json_404(api_client: ClientFor) -> None:
    response = api_client("command").get("/api/v2/cases", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": []}
