"""units.py - numbers and times for people, and back.

The cloud stores counters as integers and times as epoch milliseconds
(docs/CLOUD.md).  mcquery shows them with units (1.5k packets, 2.3MiB,
2024-05-01T10:00:00.000Z) unless asked for the raw values, and takes times
as ISO 8601 dates, epoch milliseconds or a span back from now.
"""
import datetime
import re
import time
from typing import Optional, Union

Number = Union[int, float, str, None]

_SI = ("", "k", "M", "G", "T", "P", "E")
_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_SPAN_UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000}
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")


def _as_int(value: Number) -> Optional[int]:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _scaled(n: int, base: int, names: "tuple[str, ...]") -> str:
    """n with the largest unit it reaches, 3 significant digits (999, 1.00k, 12.3k, 123k)."""
    value, i = float(n), 0
    while abs(value) >= base and i < len(names) - 1:
        value /= base
        i += 1
    if i == 0:
        return "%d%s" % (n, names[0])
    text = "%.2f" % value if abs(value) < 10 else "%.1f" % value if abs(value) < 100 else "%.0f" % value
    if text in ("1000", "1024") and i < len(names) - 1:  # 999.6k rounds to 1000k: say 1.00M
        text, i = "1.00", i + 1
    return text + names[i]


def human_count(value: Number) -> str:
    """A count (packets, flows, queries) with an SI suffix: 999, 1.50k, 23.4M; not a number: as given."""
    n = _as_int(value)
    if n is None:
        return "-" if value is None else str(value)
    return _scaled(n, 1000, _SI)


def human_bytes(value: Number) -> str:
    """Octets with an IEC (1024) unit: 512B, 1.50KiB, 23.4MiB; not a number: as given."""
    n = _as_int(value)
    if n is None:
        return "-" if value is None else str(value)
    return _scaled(n, 1024, _IEC)


def iso_ms(value: Number) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds (2024-05-01T10:00:00.123Z); absent or 0: '-'."""
    ms = _as_int(value)
    if ms is None or ms <= 0:
        return "-"
    try:
        t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(value)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def parse_time(text: str, now_ms: Optional[int] = None) -> int:
    """A time given by a person -> epoch milliseconds.

    Accepts epoch milliseconds (digits only), a span back from now
    (`90s`, `15m`, `2h`, `1d`, `1w`, `500ms`), or an ISO 8601 date or date
    and time (`2024-05-01`, `2024-05-01T10:00`, `2024-05-01 10:00:00.5Z`,
    `2024-05-01T12:00+02:00`); a date or time without an offset is UTC.
    Raises ValueError for anything else.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty time")
    if s.isdigit():
        return int(s)
    m = _SPAN.match(s)
    if m:
        if now_ms is None:
            now_ms = int(time.time() * 1000)
        return now_ms - int(float(m.group(1)) * _SPAN_UNITS[m.group(2)])
    iso = s[:-1] + "+00:00" if s[-1:] in ("Z", "z") else s
    try:
        t = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError("bad time %r: give an ISO 8601 date (2024-05-01, 2024-05-01T10:00:00Z), "
                         "epoch milliseconds, or a span back from now (15m, 2h, 1d)" % text) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    delta = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
