"""Kaspi failures as API errors: each says what went wrong at Kaspi and what the merchant can do.

`keep_changes` errors are raised after the store row was updated (needs_login, locked): the edge
commits that update, so the API and the admin panel show why the store stopped.
"""

from sauda.errors import SaudaError


class KaspiError(SaudaError):
    status_code = 502
    code = "kaspi_error"


class KaspiNotFound(KaspiError):
    status_code = 404
    code = "kaspi_not_found"


class KaspiUnavailable(KaspiError):
    """Timeouts, 5xx, answers that are not the JSON expected: worth retrying later."""

    status_code = 502
    code = "kaspi_unavailable"


class KaspiTimeout(KaspiError):
    """An API request's time budget for Kaspi ran out (`interactive_timeout_seconds`)."""

    status_code = 504
    code = "kaspi_timeout"


class KaspiBlocked(KaspiError):
    """403 or an HTML bot wall: Kaspi refuses this client or IP for a while."""

    status_code = 503
    code = "kaspi_blocked"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(message, headers=headers)
        self.retry_after = retry_after


class KaspiWrongCredentials(KaspiError):
    status_code = 400
    code = "kaspi_wrong_credentials"


class KaspiCodeRequired(KaspiError):
    status_code = 409
    code = "kaspi_code_required"


class KaspiCodeInvalid(KaspiError):
    status_code = 400
    code = "kaspi_code_invalid"

    def __init__(self, message: str, *, retry_from_scratch: bool = False) -> None:
        super().__init__(message)
        self.retry_from_scratch = retry_from_scratch


class KaspiAccessDenied(KaspiError):
    """The account may not use the cabinet (INSUFFICIENT_PERMISSIONS, NO_MERCHANTS, unknown phone)."""

    status_code = 403
    code = "kaspi_access_denied"


class KaspiWaitRequired(KaspiError):
    status_code = 429
    code = "kaspi_too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(retry_after, 1))})
        self.retry_after = max(retry_after, 1)


class KaspiFlood(KaspiWaitRequired):
    """MFA_SEND_FLOOD and friends: too many codes were sent; Kaspi says how long to wait."""

    code = "kaspi_code_flood"


class KaspiStoreLocked(KaspiWaitRequired):
    """Kaspi answered 429 (or we would exceed its limits): the store is left alone for a while."""

    code = "kaspi_store_locked"
    keep_changes = True


class KaspiRateLimited(KaspiWaitRequired):
    """Our own limiter: the request would not get its slot soon enough."""

    code = "kaspi_rate_limited"


class KaspiCoolingDown(KaspiWaitRequired):
    """Kaspi's storefront banned the outgoing IP a moment ago (403/405/429 or a bot wall): nothing
    is sent through it until the cool-down ends, since a request now would prolong the ban."""

    code = "kaspi_cooling_down"


class KaspiSessionExpired(KaspiError):
    """The cabinet answered 401: the stored cookies no longer work."""

    status_code = 409
    code = "kaspi_session_expired"


class KaspiNeedsLogin(KaspiError):
    status_code = 409
    code = "kaspi_needs_login"
    keep_changes = True


class KaspiLoginInProgress(KaspiError):
    status_code = 409
    code = "kaspi_login_in_progress"


class KaspiNoPendingLogin(KaspiError):
    status_code = 409
    code = "kaspi_no_pending_login"
    retry_from_scratch = True


class KaspiLoginFailed(KaspiError):
    """Kaspi refused a login step in a way that is neither the merchant's input nor a bot wall."""

    status_code = 502
    code = "kaspi_login_failed"


# The statuses these errors answer with, as every Kaspi route declares them in OpenAPI.
KASPI_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "kaspi_wrong_credentials, kaspi_code_invalid"},
    409: {"description": "kaspi_code_required, kaspi_needs_login, kaspi_login_in_progress, ..."},
    429: {
        "description": "kaspi_code_flood / kaspi_store_locked / kaspi_rate_limited / kaspi_cooling_down "
        "(nothing was sent; see Retry-After)"
    },
    502: {"description": "kaspi_unavailable (timeout, 5xx), kaspi_login_failed (Kaspi refused a login)"},
    503: {"description": "kaspi_blocked: Kaspi's bot protection refused us"},
    504: {"description": "kaspi_timeout: Kaspi did not answer within the request's time budget"},
}
