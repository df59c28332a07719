"""POSTing JSON to a receiver, as every HTTP channel does: "" for a 2xx answer, else what went wrong."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping


def post(url: str, data: bytes, headers: Mapping[str, str], timeout: float) -> str:
    """POST ``data``; "" when the receiver took it (a 2xx answer), else what went wrong."""
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"User-Agent": "roost-notifier", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"the receiver answered {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return f"the receiver is unreachable: {exc.reason}"
    except (TimeoutError, OSError) as exc:
        return f"the receiver did not answer in time: {exc}"
    return "" if 200 <= status < 300 else f"the receiver answered {status}"
