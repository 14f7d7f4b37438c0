"""The class of an error (analysis/errors.py): real-looking error texts and their exact classes."""

from __future__ import annotations

import pytest

from mantis_runs.analysis.errors import MAX_CLASS_CHARS, NO_ERROR, classes, normalise_error

TRACEBACK = """Traceback (most recent call last):
  File "/app/mantis/runtime/executor.py", line 412, in run_step
    result = await self._act(step, timeout=self.step_timeout)
  File "/usr/local/lib/python3.11/site-packages/playwright/_impl/_locator.py", line 156, in extract
    return await self._frame.extract(self._selector, strict=True, **params)
playwright._impl._errors.TimeoutError: Locator.extract: Timeout 30000ms exceeded.
Call log:
  - waiting for locator("#checkout >> text=Continue")
"""

CASES = [
    # Python tracebacks: the exception line, not "Traceback (most recent call last):"
    (TRACEBACK, "playwright._impl._errors.TimeoutError: Locator.extract: Timeout <n>ms exceeded."),
    ("Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n"
     "KeyError: 'plan_0b5e7c21'\n", "KeyError: <str>"),
    ("Traceback (most recent call last):\n  File \"/srv/app.py\", line 88, in main\n"
     "ValueError: invalid literal for int() with base 10: 'abc'",
     "ValueError: invalid literal for int() with base <n>: <str>"),
    ("Traceback (most recent call last):\n", "Traceback (most recent call last):"),
    # out of memory, CUDA
    ("MemoryError: Unable to allocate 3.12 GiB for an array with shape (418, 1000000)",
     "MemoryError: Unable to allocate <n> GiB for an array with shape (<n>, <n>)"),
    ("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; "
     "15.78 GiB total)",
     "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate <n> GiB (GPU <n>; "
     "<n> GiB total)"),
    ("RuntimeError: CUDA error: device-side assert triggered\nCUDA kernel errors might be "
     "asynchronously reported", "RuntimeError: CUDA error: device-side assert triggered"),
    ("Killed: process 48213 (python3) exceeded memory limit 8589934592 bytes (oom-kill)",
     "Killed: process <n> (python3) exceeded memory limit <n> bytes (oom-kill)"),
    # HTTP with request ids
    ("HTTPError: 503 Service Unavailable for url: https://api.example.com/v1/runs?id=42",
     "HTTPError: <n> Service Unavailable for url: <url>"),
    ("anthropic.InternalServerError: Error code: 529 - {'type': 'error', 'error': {'type': "
     "'overloaded_error'}} request_id=req_011CUoXz9f7c3a1b",
     "anthropic.InternalServerError: Error code: <n> - {<str>: <str>, <str>: {<str>: <str>}} "
     "request_id=req_011CUoXz9f7c3a1b"),
    ("upstream returned 503 (x-request-id: 7f3e9c2a-41b8-4d0e-9a6f-0c2d5e8b1a34)",
     "upstream returned <n> (x-request-id: <uuid>)"),
    ("503 Service Unavailable: trace 4bf92f3577b34da6a3ce929d0e0e4736",
     "<n> Service Unavailable: trace <hex>"),
    # timeouts with seconds
    ("TimeoutError: step 14 (click) exceeded 30s waiting for selector 'button#submit'",
     "TimeoutError: step <n> (click) exceeded <n>s waiting for selector <str>"),
    ("asyncio.exceptions.TimeoutError: timed out after 12.5 seconds",
     "asyncio.exceptions.TimeoutError: timed out after <n> seconds"),
    ("ReadTimeout: HTTPSConnectionPool(host='10.0.3.7', port=443): Read timed out. "
     "(read timeout=60)",
     "ReadTimeout: HTTPSConnectionPool(host=<str>, port=<n>): Read timed out. "
     "(read timeout=<n>)"),
    ("connect to 192.168.1.20:5432 failed: Connection refused",
     "connect to <ip> failed: Connection refused"),
    # files not found, unix and windows paths
    ("FileNotFoundError: [Errno 2] No such file or directory: '/data/runs/2026-11/part-3.parquet'",
     "FileNotFoundError: [Errno <n>] No such file or directory: <str>"),
    ("open /var/lib/mantis/cache/0b5e7c21.json: no such file or directory",
     "open <path>: no such file or directory"),
    ("could not read C:\\Users\\ci\\AppData\\Local\\Temp\\run_17.log",
     "could not read <path>"),
    ("missing ./fixtures/listing_3.html and ~/.config/mantis.toml",
     "missing <path> and <path>"),
    # Kubernetes
    ("The node was low on resource: memory. Container worker was using 7812340Ki, which "
     "exceeds its request of 4Gi.",
     "The node was low on resource: memory. Container worker was using <n>Ki, which exceeds "
     "its request of <n>Gi."),
    ("Pod mantis-worker-7d9f8b6c5-x2k4q evicted: DiskPressure on node ip-10-0-12-34",
     "Pod mantis-worker-<hex>-x2k4q evicted: DiskPressure on node ip-<n>-<n>-<n>-<n>"),
    ("OOMKilled: container \"browser\" in pod k8s-runner-0 exit code 137",
     "OOMKilled: container <str> in pod k8s-runner-<n> exit code <n>"),
    # hex ids, pids, quoted text, the rest
    ("BrowserCrashed: Target page, context or browser has been closed (pid 23240, signal 11)",
     "BrowserCrashed: Target page, context or browser has been closed (pid <n>, signal <n>)"),
    ("Segmentation fault at address 0x7ffd5e8b1a30 in libchrome.so",
     "Segmentation fault at address <hex> in libchrome.so"),
    ("plan 05b13c78e4be failed at step 4", "plan <hex> failed at step <n>"),
    ("VerificationFailed: claude_verify rejected step 23: expected 'Order confirmed', page shows "
     "“Paiement refusé — veuillez réessayer”",
     "VerificationFailed: claude_verify rejected step <n>: expected <str>, page shows <str>"),
    ("can't parse \"42\" as a date, got -3.5e-2 instead",
     "can't parse <str> as a date, got <n> instead"),
    ("\n\n   AssertionError:   expected\t 5   got 7  \nmore",
     "AssertionError: expected <n> got <n>"),
    ("E" * 200, "E" * (MAX_CLASS_CHARS - 1) + "…"),
    # dates and times, one placeholder each: the same error at another hour is one class
    ("ratio 1.5x at 2026-12-04T10:00:00Z", "ratio <n>x at <time>"),
    ("ratio 1.5x at 2026-11-30T23:59:07.250+01:00", "ratio <n>x at <time>"),
    ("deadline 2026-12-04 10:00:00 passed (started 09:58, retry at 10:02:30)",
     "deadline <time> passed (started <time>, retry at <time>)"),
    ("no data for 2026-12-04.", "no data for <time>."),
    ("redis at 10.0.3.7:6379 and host:8080 refused", "redis at <ip> and host:<n> refused"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_each_error_line_has_its_class(text: str, expected: str) -> None:
    assert normalise_error(text) == expected


@pytest.mark.parametrize("blank", [None, "", "\n \n\t"])
def test_a_missing_or_blank_error_is_its_own_class(blank: str | None) -> None:
    assert normalise_error(blank) == NO_ERROR


def test_classes_equals_normalise_error_one_by_one() -> None:
    """The shortcut for texts of one shape (digits 2-9 read as 1) gives the same classes,
    also where a class keeps a digit (k8s, k3s) or 0x matters."""
    texts = [t for t, _ in CASES] + [None, "k8s node 12 down", "k3s node 19 down",
                                     "k1s node 11 down", "0x1f2 bad", "1x1f2 bad",
                                     "step 2 failed", "step 9 failed"]
    assert classes(texts) == [normalise_error(t) for t in texts]
    assert classes(["k8s node 12 down", "k3s node 19 down"]) == ["k8s node <n> down",
                                                                "k3s node <n> down"]
