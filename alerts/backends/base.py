"""The provider seam: what every SMS backend takes and returns.

Backends only talk to a provider. Which messages to send, to whom, how fast and how often to
retry is decided above them (`alerts.services`), the way Django's mail backends sit below
`send_mail`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutgoingSms:
    """One message as handed to a provider.

    `reference` is unique per outbox row (e.g. "M1234") and appears in the body, so an
    attempt whose outcome was lost (a worker killed mid-request) can be found again at the
    provider (`find_sent`) instead of being sent twice. `template` and `params` are the same
    message in the form template-only providers (Alibaba Cloud) need.
    """

    id: int
    to: str  # E.164, e.g. "+8613800138000"
    body: str
    template: str
    params: dict[str, str] = field(default_factory=dict)
    reference: str = ""
    status_callback: str | None = None
    validity_seconds: int | None = None


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it took the message."""

    provider: str
    provider_id: str
    status: str  # the provider's own first status word, e.g. "queued", "accepted"


class SmsError(Exception):
    """A send that failed.

    `permanent` means this recipient cannot be reached this way (unsubscribed, invalid or
    unreachable number): retrying will not help, the alert moves to the next person.
    Anything else (throttling, provider errors, network, bad credentials) is retried until
    the message's validity runs out.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after


class SmsBackend:
    """Base class of SMS backends; subclasses set `name` and implement `send`."""

    name = "base"

    def send(self, message: OutgoingSms) -> SendResult:
        raise NotImplementedError

    def find_sent(self, message: OutgoingSms, *, since_epoch: float) -> SendResult | None:
        """The provider's record of `message` if an earlier attempt reached it, else None.

        Called before re-sending a message whose last attempt has no recorded outcome.
        A backend that cannot look messages up returns None (the message is sent again).
        """
        return None
