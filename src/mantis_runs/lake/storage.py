"""Where the lake table is and how to reach it: the URI, delta-rs storage options, and errors
folded onto one line with every credential taken out.

Credentials are never handled here: delta-rs takes them from the standard AWS chain
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, web identity, instance
metadata). Only the endpoint, the region and ``AWS_ALLOW_HTTP`` are options, set by the command
line or by the standard variables. Whatever an error says goes through :func:`redact` first.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ..errors import MantisError, UsageError, missing_extra

#: Variables whose values never reach output, errors or logs.
SECRET_VARIABLES: Final = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
                           "AWS_SECURITY_TOKEN")
#: Network limits for the object store: a wrong endpoint fails in seconds, not minutes.
NETWORK_OPTIONS: Final[dict[str, str]] = {
    "connect_timeout": "5s",
    "timeout": "120s",
    "max_retries": "3",
    "retry_timeout": "60s",
}
_SCHEMES: Final = ("s3://", "s3a://", "file://", "gs://", "az://", "abfss://", "memory://")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_USERINFO = re.compile(r"://[^/@\s]*@")


class LakeError(MantisError):
    """The lake could not be read or written: one line, no credentials."""


class NoLake(LakeError):
    """No Delta table at the URI (``mantis runs lake init`` creates it)."""


@dataclass(frozen=True)
class Target:
    """A lake table: its URI and the storage options for delta-rs (no secrets among them)."""

    uri: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def remote(self) -> bool:
        return "://" in self.uri and not self.uri.startswith("file://")


def target(uri: str, *, endpoint: str | None = None, region: str | None = None,
           allow_http: bool | None = None, env: Mapping[str, str] | None = None) -> Target:
    """The table at ``uri`` (``s3://bucket/prefix``, or a local path for tests and copies),
    reached through ``endpoint`` / ``region`` when given, else ``AWS_ENDPOINT_URL`` /
    ``AWS_REGION`` (``AWS_DEFAULT_REGION``); plain http only with ``AWS_ALLOW_HTTP=true``."""
    env = os.environ if env is None else env
    uri = uri.strip()
    if not uri:
        raise UsageError("the lake URI is empty")
    if importlib.util.find_spec("deltalake") is None:  # every lake operation starts here
        raise missing_extra("lake", "a lake table")
    if "://" in uri and not uri.startswith(_SCHEMES):
        raise UsageError(f"unsupported lake URI {uri!r}: use s3://bucket/prefix or a local path")
    if _USERINFO.search(uri) or (endpoint and _USERINFO.search(endpoint)):
        raise UsageError("credentials are not accepted in the lake URI or the endpoint (they "
                         "would show in output): use AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY, or a profile or role")
    if "://" not in uri:
        uri = os.path.abspath(uri)
    options: dict[str, str] = {}
    if "://" in uri and not uri.startswith(("file://", "memory://")):
        options.update(NETWORK_OPTIONS)
        endpoint = endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if allow_http is None:
            allow_http = env.get("AWS_ALLOW_HTTP", "").strip().lower() in ("1", "true", "yes")
        if endpoint:
            options["AWS_ENDPOINT_URL"] = endpoint
            if endpoint.startswith("http://") and not allow_http:
                raise UsageError(f"the endpoint {endpoint} is plain http: set AWS_ALLOW_HTTP=true "
                                 "to allow it")
        if region:
            options["AWS_REGION"] = region
        if allow_http:
            options["AWS_ALLOW_HTTP"] = "true"
    return Target(uri, options)


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with the value of every credential variable replaced by ``***``, ANSI colours
    removed and folded onto one line."""
    env = os.environ if env is None else env
    text = _ANSI.sub("", text)
    for name in SECRET_VARIABLES:
        value = env.get(name, "")
        if len(value) >= 4:
            text = text.replace(value, "***")
    return _USERINFO.sub("://***@", text)


def failure(exc: BaseException, target: Target, doing: str) -> LakeError:
    """The one line for a failed call to the object store or delta-rs: what was being done, at
    which URI, and the innermost reason (delta-rs nests them over several lines)."""
    lines = [ln.strip(" ↳\t") for ln in _ANSI.sub("", str(exc)).splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        reason = type(exc).__name__
    elif len(lines) == 1:
        reason = lines[0]
    else:
        request = next((ln for ln in lines if ln.startswith("Error performing")), lines[0])
        request = re.sub(r" in [0-9.]+m?s, after .*", "", request)
        reason = f"{request}: {lines[-1]}"
    text = f"{doing} {target.uri}: {reason}"
    if target.remote and ("connect" in reason.lower() or "dns" in reason.lower()):
        endpoint = target.options.get("AWS_ENDPOINT_URL", "the default AWS endpoint")
        text += f" (is {endpoint} reachable?)"
    return LakeError(" ".join(redact(text).split()))
