"""Run a function now, by hand: `make invoke FUNCTION=run_daily_aggregation`.

chDB lets one process at a time open the data directory, so when the local server is running (on `$PORT`)
the invocation goes through it (`POST /local/invoke/<function>`, with a short-lived `system` token signed by the
local secret in `$FINOPS_DATA_DIR`, which the server requires); otherwise the stack is started here and the
handler called in-process. A scheduled function gets the EventBridge event its schedule would send (with the
current time); `--event FILE` sends a recorded event instead (for example `events/<function>.<case>.json`).
The function's result is printed as JSON.

Usage: python -m local.invoke FUNCTION [--event FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.sam_template import load_template
from local.server import DEFAULT_PORT, HOST, INVOKE_PATH
from local.token import issue_token

STARTUP_WAIT_SECONDS = 90


class FunctionFailed(RuntimeError):
    pass


def invoke_through_server(port: int, function: str, event: dict[str, Any] | None) -> Any | None:
    """The function's result via the running server, or None when no server listens on `port`."""
    url = f"http://{HOST}:{port}{INVOKE_PATH}{function}"
    body = json.dumps(event).encode() if event is not None else b""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {invoke_token()}"}
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=900) as response:  # a job may run for minutes
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            reply = error.read().decode(errors="replace")
            if error.code == 503 and time.monotonic() < deadline:  # the server is still loading
                time.sleep(1)
                continue
            raise FunctionFailed(f"the local server answered {error.code}: {reply}") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, ConnectionRefusedError):
                return None
            raise


def invoke_token() -> str:
    """A `system` token for the local server's invoke endpoint, valid long enough for the server to start."""
    return issue_token(None, ["system"], lifetime=timedelta(seconds=STARTUP_WAIT_SECONDS + 60))


def invoke_in_process(function: str, event: dict[str, Any] | None) -> Any:
    from local.server import LocalApi
    from local.stack import Stack
    from local.token import signing_secret

    template = load_template()
    for name, value in template.environment.items():
        os.environ.setdefault(name, value)
    if event is None:
        event = _scheduled_event(function)
    # The function's logs and metrics go to stderr, so stdout carries the result alone.
    with contextlib.redirect_stdout(sys.stderr), Stack.default():
        api = LocalApi(template, signing_secret(), base_url="")
        return api.invoke(function, event)


def _scheduled_event(function: str) -> dict[str, Any]:
    schedule = next((s for s in load_template().schedules if s.function == function), None)
    if schedule is None:
        raise FunctionFailed(f"{function} has no schedule: give the event with --event FILE")
    return schedule.event(datetime.now(UTC).replace(microsecond=0))


def main(argv: list[str] | None = None) -> int:
    from local.stack import StackError

    template = load_template()
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description="Run a function of template.yaml now.")
    parser.add_argument("function", help=f"one of: {', '.join(sorted(set(template.functions.values())))}")
    parser.add_argument("--event", type=Path, help="a JSON event file (default: the schedule's event)")
    args = parser.parse_args(argv)
    try:
        function = template.function_folder(args.function)
    except KeyError as error:
        parser.error(str(error.args[0]))
    event = json.loads(args.event.read_text()) if args.event else None
    port = int(os.environ.get("PORT") or DEFAULT_PORT)
    try:
        result = invoke_through_server(port, function, event)
        if result is None:
            print(f"(no local server on port {port}: running {function} in this process)", file=sys.stderr)
            result = invoke_in_process(function, event)
    except (FunctionFailed, StackError) as error:
        print(f"invoke: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
