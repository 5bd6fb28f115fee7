"""SMS backends through the real provider SDKs, against loopback fakes of the providers."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from alerts.backends import BACKEND_ALIASES, get_backend, locmem
from alerts.backends.aliyun import AliyunBackend, configuration_problems, provider_number
from alerts.backends.base import OutgoingSms, SendResult, SmsError
from alerts.backends.console import ConsoleBackend
from alerts.backends.locmem import LocmemBackend
from alerts.backends.twilio import TwilioBackend, signature_valid, twiml_empty
from tests.alerts.helpers import use_fake_twilio
from tests.fakes import LoopbackServer, Request, Response
from tests.fakes.aliyun_server import FakeAliyunSmsServer
from tests.fakes.twilio_server import FakeTwilioServer

HUB_NUMBER = "+15005550006"
MAINLAND = "+8613800138000"
PUBLIC_STATUS_URL = "https://hub.example.org/alerts/sms/status/?m=7"
SIGN_NAME = "欠薪联合指挥"


ALERT = OutgoingSms(
    id=7,
    to=MAINLAND,
    body="1级群体性事件E-0001：练市约40人，请立即响应，回复1确认。 M7",
    template="incident_opened",
    params={"level": "1", "code": "E-0001", "town": "练市", "ref": "M7"},
    reference="M7",
    status_callback=PUBLIC_STATUS_URL,
    validity_seconds=600,
)


def sms(**changes: Any) -> OutgoingSms:
    return replace(ALERT, **changes)


class Recorder(LoopbackServer):
    """Stands in for the hub's webhook views: records each POST, answers empty TwiML."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[str, dict[str, str], str]] = []

    def handle(self, request: Request) -> Response:
        params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        with self._lock:
            self.received.append(
                (request.path, params, request.headers.get("X-Twilio-Signature", ""))
            )
        return Response(200, twiml_empty().encode(), "text/xml")


@pytest.fixture
def twilio_fake(settings: Settings) -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(phone_number=HUB_NUMBER) as fake:
        use_fake_twilio(settings, fake, number=HUB_NUMBER)
        yield fake


@pytest.fixture
def aliyun_fake(settings: Settings) -> Iterator[FakeAliyunSmsServer]:
    templates = {"SMS_100": "${level}级群体性事件${code}：${town}，请立即响应。${ref}"}
    with FakeAliyunSmsServer(sign_name=SIGN_NAME, templates=templates) as fake:
        settings.SMS_BACKEND = "aliyun"
        settings.ALIYUN_ACCESS_KEY_ID = fake.access_key_id
        settings.ALIYUN_ACCESS_KEY_SECRET = fake.access_key_secret
        settings.ALIYUN_SMS_SIGN_NAME = SIGN_NAME
        settings.ALIYUN_SMS_ENDPOINT = fake.endpoint
        settings.ALIYUN_SMS_PROTOCOL = "http"
        settings.ALIYUN_SMS_TEMPLATES = {"incident_opened": "SMS_100"}
        yield fake


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both SDKs would send even 127.0.0.1 requests through a proxy named in the
    environment (the Alibaba Cloud SDK ignores NO_PROXY)."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def empty_locmem() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


# --- choosing a backend ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "backend_class"),
    [
        ("console", ConsoleBackend),
        ("locmem", LocmemBackend),
        ("twilio", TwilioBackend),
        ("aliyun", AliyunBackend),
    ],
)
def test_get_backend_resolves_aliases(alias: str, backend_class: type) -> None:
    assert type(get_backend(alias)) is backend_class
    assert BACKEND_ALIASES[alias].endswith(backend_class.__name__)


def test_get_backend_reads_the_setting_on_every_call(settings: Settings) -> None:
    settings.SMS_BACKEND = "locmem"
    assert isinstance(get_backend(), LocmemBackend)
    settings.SMS_BACKEND = "alerts.backends.console.ConsoleBackend"
    assert isinstance(get_backend(), ConsoleBackend)


@pytest.mark.parametrize(
    "path",
    ["alerts.backends.nowhere.Backend", "not-a-path", "alerts.backends.base.SendResult"],
)
def test_get_backend_refuses_a_path_that_is_no_backend(settings: Settings, path: str) -> None:
    settings.SMS_BACKEND = path
    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND"):
        get_backend()


# --- console and locmem ---------------------------------------------------------------


def test_console_prints_recipient_reference_and_body(capsys: pytest.CaptureFixture[str]) -> None:
    result = ConsoleBackend().send(sms())
    out = capsys.readouterr().out
    assert MAINLAND in out
    assert "Reference: M7" in out
    assert sms().body in out
    assert result == SendResult("console", "console-M7", "sent")


def test_console_writes_to_the_given_stream() -> None:
    stream = io.StringIO()
    ConsoleBackend(stream=stream).send(sms(reference=""))
    assert sms().body in stream.getvalue()


def test_locmem_keeps_sent_messages_in_the_outbox() -> None:
    result = LocmemBackend().send(sms())
    assert locmem.outbox == [sms()]
    assert result.provider == "locmem"
    assert result.provider_id.startswith("LM")
    assert result.status == "queued"


def test_locmem_raises_scripted_failures_in_order_then_sends() -> None:
    throttled = SmsError("throttled", code="20429")
    unsubscribed = SmsError("unsubscribed", code="21610", permanent=True)
    locmem.failures.extend([throttled, unsubscribed])
    backend = LocmemBackend()
    with pytest.raises(SmsError) as first:
        backend.send(sms())
    with pytest.raises(SmsError) as second:
        backend.send(sms())
    backend.send(sms())
    assert (first.value, second.value) == (throttled, unsubscribed)
    assert len(locmem.outbox) == 1


def test_locmem_find_sent_returns_the_earlier_result_by_reference() -> None:
    backend = LocmemBackend()
    result = backend.send(sms())
    assert backend.find_sent(sms(body="another body, same M7"), since_epoch=time.time()) == result
    assert backend.find_sent(sms(reference="M8"), since_epoch=time.time()) is None
    assert backend.find_sent(sms(reference=""), since_epoch=time.time()) is None


def test_locmem_reset_empties_outbox_and_failures() -> None:
    LocmemBackend().send(sms())
    locmem.failures.append(SmsError("x"))
    locmem.reset()
    assert locmem.outbox == []
    assert locmem.failures == []
    assert LocmemBackend().find_sent(sms(), since_epoch=0) is None


# --- Twilio ---------------------------------------------------------------------------


def test_twilio_send_returns_sid_and_first_status(twilio_fake: FakeTwilioServer) -> None:
    result = get_backend().send(sms())
    assert result.provider == "twilio"
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_id)
    assert result.status == "queued"
    [received] = twilio_fake.messages
    assert received.sid == result.provider_id
    assert received.to == MAINLAND
    assert received.from_ == HUB_NUMBER
    assert received.body == sms().body
    assert received.status_callback == PUBLIC_STATUS_URL
    assert received.validity_period == 600
    assert received.messaging_service_sid is None


def test_twilio_send_through_a_messaging_service(
    twilio_fake: FakeTwilioServer, settings: Settings
) -> None:
    settings.TWILIO_FROM = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    result = TwilioBackend().send(sms())
    assert result.status == "accepted"
    [received] = twilio_fake.messages
    assert received.messaging_service_sid == "MG" + "1" * 32
    assert "From" not in received.params


@pytest.mark.parametrize(("asked", "sent"), [(100_000, 36_000), (0, 1), (-5, 1), (1, 1)])
def test_twilio_validity_period_is_clamped_to_twilios_range(
    twilio_fake: FakeTwilioServer, asked: int, sent: int
) -> None:
    TwilioBackend().send(sms(validity_seconds=asked))
    assert twilio_fake.messages[0].validity_period == sent


def test_twilio_send_without_callback_or_validity_leaves_them_out(
    twilio_fake: FakeTwilioServer,
) -> None:
    TwilioBackend().send(sms(status_callback=None, validity_seconds=None))
    params = twilio_fake.messages[0].params
    assert "StatusCallback" not in params
    assert "ValidityPeriod" not in params


@pytest.mark.parametrize(("http_status", "code"), [(429, 20429), (500, 20500), (503, 20503)])
def test_twilio_throttling_and_server_errors_are_transient(
    twilio_fake: FakeTwilioServer, http_status: int, code: int
) -> None:
    twilio_fake.fail_next(http_status, code)
    with pytest.raises(SmsError) as caught:
        TwilioBackend().send(sms())
    assert caught.value.permanent is False
    assert caught.value.code == str(code)
    assert twilio_fake.messages == []


@pytest.mark.parametrize("code", [21610, 21211, 21614])
def test_twilio_unreachable_recipient_is_permanent(
    twilio_fake: FakeTwilioServer, code: int
) -> None:
    twilio_fake.reject_number(MAINLAND, code)
    with pytest.raises(SmsError) as caught:
        TwilioBackend().send(sms())
    assert caught.value.permanent is True
    assert caught.value.code == str(code)


def test_twilio_bad_credentials_are_transient_and_logged_as_errors(
    twilio_fake: FakeTwilioServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    with (
        caplog.at_level(logging.ERROR, logger="alerts.backends.twilio"),
        pytest.raises(SmsError) as caught,
    ):
        TwilioBackend().send(sms())
    assert caught.value.permanent is False
    assert caught.value.code == "20003"
    assert "20003" in caplog.text


def test_twilio_unreachable_provider_is_a_transient_network_error(
    twilio_fake: FakeTwilioServer,
) -> None:
    twilio_fake.stop()
    with pytest.raises(SmsError) as caught:
        TwilioBackend().send(sms())
    assert (caught.value.code, caught.value.permanent) == ("network", False)


def test_twilio_slow_provider_times_out_as_a_network_error(
    twilio_fake: FakeTwilioServer, settings: Settings
) -> None:
    settings.TWILIO_TIMEOUT_SECONDS = 0.2
    twilio_fake.set_delay(1.0)
    with pytest.raises(SmsError) as caught:
        TwilioBackend().send(sms())
    assert caught.value.code == "network"


def test_twilio_without_a_sender_fails_before_any_request(
    twilio_fake: FakeTwilioServer, settings: Settings
) -> None:
    settings.TWILIO_FROM = ""
    with pytest.raises(SmsError) as caught:
        TwilioBackend().send(sms())
    assert (caught.value.code, caught.value.permanent) == ("not_configured", False)
    assert twilio_fake.messages == []


def test_twilio_find_sent_finds_an_earlier_attempt_by_reference(
    twilio_fake: FakeTwilioServer,
) -> None:
    started = time.time()
    sent = TwilioBackend().send(sms())
    TwilioBackend().send(sms(to="+8613900139000", body="another person, same M7"))
    assert TwilioBackend().find_sent(sms(), since_epoch=started) == sent


def test_twilio_find_sent_ignores_other_references_and_older_messages(
    twilio_fake: FakeTwilioServer,
) -> None:
    TwilioBackend().send(sms(body="事件E-0001 M70", reference="M70"))
    backend = TwilioBackend()
    assert backend.find_sent(sms(reference="M7"), since_epoch=time.time()) is None
    assert backend.find_sent(sms(reference="M70"), since_epoch=time.time() + 3600) is None
    assert backend.find_sent(sms(reference="M70"), since_epoch=time.time()) is not None


def test_twilio_find_sent_failure_raises_instead_of_answering_none(
    twilio_fake: FakeTwilioServer,
) -> None:
    TwilioBackend().send(sms())
    twilio_fake.fail_next(500, 20500, method="GET")
    with pytest.raises(SmsError) as caught:
        TwilioBackend().find_sent(sms(), since_epoch=time.time())
    assert caught.value.permanent is False


def test_twilio_find_sent_looks_through_the_latest_fifty_messages_to_the_number(
    twilio_fake: FakeTwilioServer,
) -> None:
    started = time.time()
    backend = TwilioBackend()
    backend.send(sms())
    for n in range(49):
        backend.send(sms(body=f"later message X{n}", reference=f"X{n}"))
    assert backend.find_sent(sms(), since_epoch=started) is not None
    backend.send(sms(body="one more X49", reference="X49"))
    assert backend.find_sent(sms(), since_epoch=started) is None


def test_signature_valid_accepts_twilios_signature(twilio_fake: FakeTwilioServer) -> None:
    params = twilio_fake.status_params("SM" + "a" * 32, "delivered")
    signature = twilio_fake.sign(PUBLIC_STATUS_URL, params)
    assert signature_valid(PUBLIC_STATUS_URL, params, signature)


def test_signature_valid_refuses_tampering_and_missing_parts(
    twilio_fake: FakeTwilioServer, settings: Settings
) -> None:
    params = twilio_fake.status_params("SM" + "a" * 32, "delivered")
    signature = twilio_fake.sign(PUBLIC_STATUS_URL, params)
    assert not signature_valid(PUBLIC_STATUS_URL, {**params, "MessageStatus": "failed"}, signature)
    assert not signature_valid("https://hub.example.org/other/", params, signature)
    assert not signature_valid(PUBLIC_STATUS_URL, params, "")
    settings.TWILIO_AUTH_TOKEN = ""
    assert not signature_valid(PUBLIC_STATUS_URL, params, signature)


def test_twiml_empty_is_an_empty_response() -> None:
    assert twiml_empty() == '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def test_fake_twilio_posts_signed_status_callbacks_after_each_send(
    settings: Settings,
) -> None:
    with (
        Recorder() as hub,
        FakeTwilioServer(
            auto_callbacks=("sent", "delivered"), callback_base_url=hub.base_url
        ) as fake,
    ):
        settings.TWILIO_ACCOUNT_SID = fake.account_sid
        settings.TWILIO_AUTH_TOKEN = fake.auth_token
        settings.TWILIO_FROM = HUB_NUMBER
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_BASE_URL = fake.base_url
        result = TwilioBackend().send(sms())
        callbacks = fake.wait_for_callbacks(2, timeout=5)
    assert [c.status_code for c in callbacks] == [200, 200]
    assert [path for path, _, _ in hub.received] == ["/alerts/sms/status/"] * 2
    for _, params, signature in hub.received:
        assert params["MessageSid"] == result.provider_id
        assert signature_valid(PUBLIC_STATUS_URL, params, signature)
    assert [params["MessageStatus"] for _, params, _ in hub.received] == ["sent", "delivered"]
    assert fake.message(result.provider_id).status == "delivered"


def test_fake_twilio_inbound_with_a_bad_signature_fails_validation(
    twilio_fake: FakeTwilioServer,
) -> None:
    with Recorder() as hub:
        status, body = twilio_fake.post_inbound(
            hub.base_url + "/alerts/sms/inbound/", MAINLAND, "1 M7", bad_signature=True
        )
        twilio_fake.post_inbound(
            hub.base_url + "/alerts/sms/inbound/",
            MAINLAND,
            "1 M7",
            sign_url="https://hub.example.org/alerts/sms/inbound/",
        )
    assert (status, body) == (200, twiml_empty())
    (_, bad_params, bad_signature), (_, good_params, good_signature) = hub.received
    assert bad_params["Body"] == "1 M7"
    assert bad_params["To"] == HUB_NUMBER
    url = "https://hub.example.org/alerts/sms/inbound/"
    assert not signature_valid(url, bad_params, bad_signature)
    assert signature_valid(url, good_params, good_signature)


# --- Alibaba Cloud --------------------------------------------------------------------


def test_aliyun_send_maps_the_template_and_passes_params_as_json(
    aliyun_fake: FakeAliyunSmsServer,
) -> None:
    result = get_backend().send(sms())
    [received] = aliyun_fake.messages
    assert result == SendResult("aliyun", received.biz_id, "sent")
    assert received.phone_numbers == "13800138000"
    assert received.template_code == "SMS_100"
    assert received.template_param == {"level": "1", "code": "E-0001", "town": "练市", "ref": "M7"}
    assert received.sign_name == SIGN_NAME
    assert received.out_id == "M7"
    assert received.content == f"【{SIGN_NAME}】1级群体性事件E-0001：练市，请立即响应。M7"


@pytest.mark.parametrize(
    ("e164", "posted"),
    [("+8613800138000", "13800138000"), ("+85291234567", "85291234567")],
)
def test_aliyun_numbers_drop_the_plus_and_the_mainland_country_code(
    aliyun_fake: FakeAliyunSmsServer, e164: str, posted: str
) -> None:
    assert provider_number(e164) == posted
    AliyunBackend().send(sms(to=e164))
    assert aliyun_fake.messages[0].phone_numbers == posted


@pytest.mark.parametrize(
    ("code", "permanent"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", True),
        ("isv.BLACK_KEY_CONTROL_LIMIT", True),
        ("isv.DAY_LIMIT_CONTROL", True),
        ("isv.BUSINESS_LIMIT_CONTROL", False),
        ("isp.SYSTEM_ERROR", False),
        ("isv.SMS_TEMPLATE_ILLEGAL", False),
        ("isv.AMOUNT_NOT_ENOUGH", False),
    ],
)
def test_aliyun_error_codes_are_permanent_only_for_the_recipient(
    aliyun_fake: FakeAliyunSmsServer, code: str, permanent: bool
) -> None:
    aliyun_fake.fail_next(code)
    with pytest.raises(SmsError) as caught:
        AliyunBackend().send(sms())
    assert (caught.value.code, caught.value.permanent) == (code, permanent)


def test_aliyun_per_number_throttling_asks_to_wait_a_minute(
    aliyun_fake: FakeAliyunSmsServer,
) -> None:
    aliyun_fake.fail_next("isv.BUSINESS_LIMIT_CONTROL")
    with pytest.raises(SmsError) as caught:
        AliyunBackend().send(sms())
    assert caught.value.retry_after == 60.0


def test_aliyun_rejected_number_is_permanent(aliyun_fake: FakeAliyunSmsServer) -> None:
    aliyun_fake.reject_number("13800138000", "isv.BLACK_KEY_CONTROL_LIMIT")
    with pytest.raises(SmsError) as caught:
        AliyunBackend().send(sms())
    assert caught.value.permanent is True


@pytest.mark.parametrize(
    ("code", "http_status"), [("ServiceUnavailable", 503), ("InternalError", 500)]
)
def test_aliyun_server_errors_are_transient(
    aliyun_fake: FakeAliyunSmsServer, code: str, http_status: int
) -> None:
    aliyun_fake.fail_next(code, http_status=http_status)
    with pytest.raises(SmsError) as caught:
        AliyunBackend().send(sms())
    assert (caught.value.code, caught.value.permanent) == (code, False)


def test_aliyun_wrong_secret_surfaces_the_signature_error(
    aliyun_fake: FakeAliyunSmsServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ALIYUN_ACCESS_KEY_SECRET = "not-the-secret"
    with (
        caplog.at_level(logging.ERROR, logger="alerts.backends.aliyun"),
        pytest.raises(SmsError) as caught,
    ):
        AliyunBackend().send(sms())
    assert (caught.value.code, caught.value.permanent) == ("SignatureDoesNotMatch", False)
    assert aliyun_fake.signature_failures == 1
    assert aliyun_fake.messages == []
    assert "SignatureDoesNotMatch" in caplog.text


def test_aliyun_unknown_key_id_is_transient(
    aliyun_fake: FakeAliyunSmsServer, settings: Settings
) -> None:
    settings.ALIYUN_ACCESS_KEY_ID = "LTAInot-a-key"
    with pytest.raises(SmsError) as caught:
        AliyunBackend().send(sms())
    assert (caught.value.code, caught.value.permanent) == ("InvalidAccessKeyId.NotFound", False)


def test_aliyun_unmapped_template_fails_before_any_request(
    aliyun_fake: FakeAliyunSmsServer, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="alerts.backends.aliyun"),
        pytest.raises(SmsError) as caught,
    ):
        AliyunBackend().send(sms(template="clock_overdue"))
    assert (caught.value.code, caught.value.permanent) == ("template_unmapped", False)
    assert "clock_overdue" in caplog.text
    assert aliyun_fake.messages == []


def test_aliyun_missing_template_parameter_is_a_transient_configuration_error(
    aliyun_fake: FakeAliyunSmsServer,
) -> None:
    with pytest.raises(SmsError) as caught:
        AliyunBackend().send(sms(params={"level": "1"}))
    assert (caught.value.code, caught.value.permanent) == ("isv.TEMPLATE_MISSING_PARAMETERS", False)


def test_aliyun_unreachable_provider_is_a_transient_network_error(
    aliyun_fake: FakeAliyunSmsServer,
) -> None:
    aliyun_fake.stop()
    with pytest.raises(SmsError) as caught:
        AliyunBackend().send(sms())
    assert (caught.value.code, caught.value.permanent) == ("network", False)


def test_aliyun_find_sent_finds_an_earlier_attempt_by_out_id(
    aliyun_fake: FakeAliyunSmsServer,
) -> None:
    started = time.time()
    AliyunBackend().send(sms())
    AliyunBackend().send(sms(reference="M8", params={**sms().params, "ref": "M8"}))
    backend = AliyunBackend()
    assert backend.find_sent(sms(), since_epoch=started) == SendResult("aliyun", "", "sent")
    assert backend.find_sent(sms(reference="M9"), since_epoch=started) is None
    assert backend.find_sent(sms(to="+8613900139000"), since_epoch=started) is None


def test_aliyun_find_sent_failure_raises_instead_of_answering_none(
    aliyun_fake: FakeAliyunSmsServer,
) -> None:
    aliyun_fake.fail_next("isp.SYSTEM_ERROR", http_status=500, action="QuerySendDetails")
    with pytest.raises(SmsError) as caught:
        AliyunBackend().find_sent(sms(), since_epoch=time.time())
    assert caught.value.permanent is False


def test_aliyun_configuration_problems_name_missing_settings_and_templates(
    settings: Settings,
) -> None:
    settings.ALIYUN_ACCESS_KEY_ID = ""
    settings.ALIYUN_ACCESS_KEY_SECRET = "secret"
    settings.ALIYUN_SMS_SIGN_NAME = SIGN_NAME
    settings.ALIYUN_SMS_ENDPOINT = "dysmsapi.aliyuncs.com"
    settings.ALIYUN_SMS_PROTOCOL = "https"
    settings.ALIYUN_SMS_TEMPLATES = {"incident_opened": "SMS_100"}
    problems = configuration_problems(["incident_opened", "clock_overdue"])
    assert problems == [
        "ALIYUN_ACCESS_KEY_ID is not set",
        "ALIYUN_SMS_TEMPLATES has no template code for 'clock_overdue'",
    ]
    settings.ALIYUN_ACCESS_KEY_ID = "LTAIkey"
    assert configuration_problems(["incident_opened"]) == []
