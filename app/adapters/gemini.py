"""Gemini through ``google-genai`` (the current SDK; ``google-generativeai`` ended on 30 Nov 2025).

One call: ``GeminiClient.generate(model, prompt, schema)`` sends the prompt with structured
output (``response_mime_type="application/json"``, ``response_schema=<pydantic model>``) and
returns a :class:`GeminiReply` with the raw text, the parsed answer (or why it would not
parse) and the token counts from ``usageMetadata`` (a negative or non-number count becomes 0
with ``usage_note`` saying so: the reply is returned, never raised, so the paid call is
recorded in the budget log).

* The API version is pinned (default ``v1beta``, where structured output and every current
  model are served; google-genai 3.0 changed its own default to ``v1``).
* ``base_url`` points the client elsewhere (tests: a loopback fake); when ``None`` the SDK
  honours ``GOOGLE_GEMINI_BASE_URL``.
* The SDK's own retries stay off (``retry_options=None``): Dramatiq retries the job.
* Vendor errors are translated here (infra-notes §3): ``ClientError`` 400 "API key not valid"
  / 401 / 403 → :class:`GeminiAuthError`; 404 or a 400 about the model →
  :class:`GeminiModelError`; 429 → :class:`GeminiRateLimited`; ``ServerError`` (5xx), timeouts
  and connection failures → :class:`GeminiUnavailable`; any other 4xx → :class:`GeminiRequestError`.
  The API key never appears in a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from core.errors import DeskError, TemporaryError

if TYPE_CHECKING:  # pragma: no cover
    from google.genai import errors as genai_errors

# ``google-genai`` (~20 MB resident with its pydantic types) is imported by ``GeminiClient``, i.e.
# only where a Gemini key is set: every worker, page and the API import this module for its errors.

DEFAULT_API_VERSION = "v1beta"
DEFAULT_MODEL = "gemini-2.5-flash"


class GeminiError(DeskError):
    """A Gemini call failed. ``code`` the HTTP status (0 when there was no response)."""

    def __init__(self, message: str, code: int = 0, status: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class GeminiAuthError(GeminiError):
    """The API key is missing, invalid or not allowed (do not retry; offer the offline analyst)."""


class GeminiModelError(GeminiError):
    """The API rejected the model name (do not retry; pick another model)."""


class GeminiRequestError(GeminiError):
    """Any other refusal of the request (4xx; do not retry)."""


class GeminiTransientError(GeminiError, TemporaryError):
    """Worth retrying later: rate limited, server error, timeout, connection failure."""


class GeminiRateLimited(GeminiTransientError):
    """HTTP 429 RESOURCE_EXHAUSTED."""


class GeminiUnavailable(GeminiTransientError):
    """HTTP 5xx, a timeout or no connection."""


@dataclass(frozen=True, slots=True)
class GeminiReply:
    """One answer: ``text`` (raw), ``parsed`` (a ``schema`` instance, or ``None`` with
    ``parse_error`` saying why), tokens (prompt; output incl. thinking), ``model_version``."""

    text: str
    parsed: BaseModel | None
    parse_error: str | None
    prompt_tokens: int
    output_tokens: int
    model_version: str = ""
    #: why the token counts were changed (a negative or non-number count from ``usageMetadata``
    #: is recorded as 0 and flagged here), ``""`` when they were taken as sent
    usage_note: str = ""


def usage_count(name: str, value: Any) -> tuple[int, str]:
    """One ``usageMetadata`` token count as an ``int >= 0`` and a note when it had to be changed:
    a missing count is 0 (no note); a negative, non-integer or non-number one is 0 with a note
    naming it (the call was still paid for; the budget log must not lose it)."""
    if value is None:
        return 0, ""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            return 0, f"{name} {str(value)[:30]!r} is not a number; recorded as 0"
        if not number == number or number in (float("inf"), float("-inf")) or number != int(number):
            return 0, f"{name} {str(value)[:30]} is not a whole number; recorded as 0"
        value = int(number)
    if value < 0:
        return 0, f"{name} {value} is negative; recorded as 0"
    return value, ""


def parse_answer(text: str, schema: type[BaseModel]) -> tuple[BaseModel | None, str | None]:
    """``(instance, None)`` or ``(None, reason)`` for malformed JSON or the wrong shape."""
    try:
        obj = json.loads(text)
    except (TypeError, ValueError) as exc:
        return None, f"the answer is not valid JSON ({exc.__class__.__name__}: {str(exc)[:120]})"
    try:
        return schema.model_validate(obj), None
    except PydanticValidationError as exc:
        issues = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:6])
        return None, f"the answer has the wrong shape: {issues}"


class GeminiClient:
    """A thin, thread-safe wrapper over ``genai.Client`` for structured answers."""

    def __init__(self, api_key: str, *, base_url: str | None = None, api_version: str = DEFAULT_API_VERSION,
                 timeout_s: float = 30.0) -> None:
        if not api_key:
            raise GeminiAuthError("no Gemini API key: set GEMINI_API_KEY or use the offline analyst")
        from google import genai
        from google.genai import types

        self.api_version = api_version
        self.timeout_s = timeout_s
        options = types.HttpOptions(api_version=api_version, timeout=int(timeout_s * 1000), retry_options=None)
        if base_url:
            options.base_url = base_url
        self._client = genai.Client(api_key=api_key, http_options=options)

    def generate(self, model: str, prompt: str, schema: type[BaseModel], *, temperature: float = 0.2) -> GeminiReply:
        """Ask ``model`` for a ``schema``-shaped JSON answer to ``prompt``.

        Raises the :class:`GeminiError` subclasses listed in the module docstring. A reply that
        does not parse is *returned* (``parsed is None``) so its tokens can still be counted.
        """
        from google.genai import errors as genai_errors
        from google.genai import types

        config = types.GenerateContentConfig(temperature=temperature, response_mime_type="application/json",
                                             response_schema=schema)
        try:
            resp = self._client.models.generate_content(model=model, contents=prompt, config=config)
        except genai_errors.ClientError as exc:
            raise _client_error(exc, model, self.api_version) from None
        except genai_errors.ServerError as exc:
            raise GeminiUnavailable(f"Gemini server error {exc.code} {exc.status or ''}: {_msg(exc)}",
                                    exc.code or 500, exc.status or "") from None
        except genai_errors.APIError as exc:
            raise GeminiRequestError(f"Gemini error {exc.code}: {_msg(exc)}", exc.code or 0, exc.status or "") from None
        except Exception as exc:  # transport errors come from httpx/httpx2 (timeouts, refused connections)
            name = type(exc).__name__
            if "Timeout" in name or isinstance(exc, TimeoutError):
                raise GeminiUnavailable(f"Gemini did not answer within {self.timeout_s:g}s ({name})") from None
            if any(k in name for k in ("Connect", "Network", "Protocol", "RemoteProtocol", "ReadError")) \
                    or isinstance(exc, OSError):
                raise GeminiUnavailable(f"could not reach Gemini ({name}: {str(exc)[:160]})") from None
            raise
        text = resp.text or ""
        parsed, why = parse_answer(text, schema)
        usage = resp.usage_metadata
        prompt_tokens, n1 = usage_count("promptTokenCount", getattr(usage, "prompt_token_count", None))
        candidates, n2 = usage_count("candidatesTokenCount", getattr(usage, "candidates_token_count", None))
        thoughts, n3 = usage_count("thoughtsTokenCount", getattr(usage, "thoughts_token_count", None))
        if not text and why:
            why = "the answer was empty (blocked or cut off: " + _finish_reason(resp) + ")"
        note = "; ".join(n for n in (n1, n2, n3) if n)
        return GeminiReply(text, parsed, why, prompt_tokens, candidates + thoughts, resp.model_version or "",
                           "Gemini sent bad usage counts: " + note if note else "")


def _msg(exc: genai_errors.APIError) -> str:
    return str(exc.message or exc)[:300]


def _finish_reason(resp: Any) -> str:
    try:
        return str(resp.candidates[0].finish_reason)
    except (AttributeError, IndexError, TypeError):
        return "no candidate"


def _client_error(exc: genai_errors.ClientError, model: str, api_version: str) -> GeminiError:
    code, status, message = exc.code or 400, exc.status or "", _msg(exc)
    low = message.lower()
    if code == 429:
        return GeminiRateLimited(f"Gemini rate limit or quota reached (429 {status}): {message}", code, status)
    if code in (401, 403) or (code == 400 and "api key" in low):
        return GeminiAuthError(f"Gemini refused the API key ({code} {status}): {message}. Check GEMINI_API_KEY, "
                               "or use the offline analyst", code, status)
    if code == 404 or (code == 400 and "model" in low):
        return GeminiModelError(f"Gemini rejected the model {model!r} on API {api_version} ({code} {status}): "
                                f"{message}", code, status)
    return GeminiRequestError(f"Gemini refused the request ({code} {status}): {message}", code, status)
