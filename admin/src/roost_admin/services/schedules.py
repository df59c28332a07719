"""A launch plan's schedule as Flyte defines it, read once into a :class:`Schedule` that knows its fire times.

- ``cron_schedule.schedule``: a 5-field cron expression (cronsim evaluates it) or one of flytekit's aliases
  (``@hourly``, ``hourly``, ``hours``, ... ``@yearly``; and ``@midnight``, which Flyte's native scheduler takes
  too). ``CRON_TZ=<zone> `` (or ``TZ=<zone> ``) in front names the IANA time zone the expression is read in, as
  in Flyte's native scheduler; without it the zone is UTC. In a zone with daylight saving, a time the spring
  jump skips runs right after the jump and a time the autumn fall repeats runs once (cron's rule), so no run is
  lost or doubled.
- ``cron_schedule.offset``: an ISO 8601 duration (``PT2H``, ``-P1D``, ``P1DT30M``; weeks, days, hours,
  minutes and seconds, as they have a fixed length) added to every cron time: the run is made at the shifted
  time, and that is the time the kickoff input receives.
- ``cron_expression`` (deprecated in flyteidl): 5 fields as above, or the 6-field AWS form flytekit validates
  (``minute hour day-of-month month day-of-week year``, ``?`` for "any", day-of-week 1-7 from Sunday).
- ``rate``: every N minutes, hours or days from the moment the version was activated (its anchor), as Flyte's
  native scheduler counts them.

Each fire time has one execution name (:func:`execution_name`): so whoever launches a time (a scheduler, a second
scheduler, a catch-up, a backfill) names the same execution, and a second launch is a harmless "already exists".
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flyteidl.admin import launch_plan_pb2, schedule_pb2
from flyteidl.core import literals_pb2

from roost_admin.errors import InvalidArgument

UTC = datetime.UTC
FIELD = "spec.entity_metadata.schedule"
"""Where a launch plan keeps its schedule; messages name the fields under it."""

CRON_ALIASES = {
    **dict.fromkeys(("@hourly", "hourly", "hours"), "0 * * * *"),
    **dict.fromkeys(("@daily", "daily", "days", "@midnight"), "0 0 * * *"),
    **dict.fromkeys(("@weekly", "weekly", "weeks"), "0 0 * * 0"),
    **dict.fromkeys(("@monthly", "monthly", "months"), "0 0 1 * *"),
    **dict.fromkeys(("@yearly", "yearly", "years", "@annually", "annually"), "0 0 1 1 *"),
}
"""flytekit's cron aliases (case does not matter), as 5-field expressions."""

_ZONE_PREFIX = re.compile(r"^\s*(?:CRON_TZ|TZ)=(\S*)\s+(.*)$", re.DOTALL)
_OFFSET = re.compile(
    r"([-+]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?"
)
CATCH_UP_ANNOTATION = "roost/schedule-catch-up"
"""The launch plan annotation that sets its own catch-up limit: ``false``, ``true`` or a number."""
_RATE_UNITS = {
    schedule_pb2.MINUTE: datetime.timedelta(minutes=1),
    schedule_pb2.HOUR: datetime.timedelta(hours=1),
    schedule_pb2.DAY: datetime.timedelta(days=1),
}
_AWS_WEEKDAY = re.compile(r"(?<![/#\d])(\d+)")
_FIRST_YEAR, _LAST_YEAR = 1970, 2199
_NAME_HASH_LENGTH = 19


@dataclass(frozen=True)
class Schedule:
    """When a launch plan runs: the times of a cron expression (shifted by an offset) or of a fixed rate."""

    kind: str
    """"cron" or "rate"."""
    expression: str = ""
    """The 5-field cron expression (aliases resolved, AWS form translated); "" for a rate."""
    zone: datetime.tzinfo = UTC
    offset: datetime.timedelta = datetime.timedelta(0)
    every: datetime.timedelta = datetime.timedelta(0)
    """The rate's period; zero for cron."""
    years: frozenset[int] | None = None
    """The years an AWS-form expression allows (None: any)."""
    kickoff_input: str = ""
    """The input that receives the scheduled time, if any."""

    # ------------------------------------------------------------------------------------------------
    # fire times (timezone-aware UTC datetimes)

    def after(self, moment: datetime.datetime, anchor: datetime.datetime) -> datetime.datetime | None:
        """The first fire time strictly after ``moment`` (None if there is none: an AWS year list that ended).
        ``anchor`` is when the schedule started (a rate counts its periods from it)."""
        return next(self.forward(moment, anchor), None)

    def forward(self, moment: datetime.datetime, anchor: datetime.datetime) -> Iterator[datetime.datetime]:
        """Fire times strictly after ``moment``, ascending."""
        if self.kind == "rate":
            periods = max(1, (moment - anchor) // self.every + 1)
            while True:
                yield anchor + periods * self.every
                periods += 1
        for moment_of_cron in self._cron(moment - self.offset, reverse=False):
            yield moment_of_cron + self.offset

    def backward(self, moment: datetime.datetime, anchor: datetime.datetime) -> Iterator[datetime.datetime]:
        """Fire times strictly before ``moment``, descending (a rate's stop at its anchor)."""
        if self.kind == "rate":
            periods = -((anchor - moment) // self.every) - 1
            while periods >= 1:
                yield anchor + periods * self.every
                periods -= 1
            return
        for moment_of_cron in self._cron(moment - self.offset, reverse=True):
            yield moment_of_cron + self.offset

    def between(
        self, start: datetime.datetime, end: datetime.datetime, anchor: datetime.datetime
    ) -> Iterator[datetime.datetime]:
        """Fire times ``t`` with ``start <= t <= end``, ascending."""
        for moment in self.forward(start - datetime.timedelta(microseconds=1), anchor):
            if moment > end:
                return
            yield moment

    def _cron(self, moment: datetime.datetime, *, reverse: bool) -> Iterator[datetime.datetime]:
        from cronsim import CronSim

        local: datetime.datetime | None = moment.astimezone(self.zone)
        while local is not None:
            restart = None
            for candidate in CronSim(self.expression, local, reverse=reverse):
                if self.years is None or candidate.year in self.years:
                    yield candidate.astimezone(UTC)
                    continue
                # A year the AWS form excludes: go on from the edge of the next allowed one (if any).
                restart = self._next_year_edge(candidate.year, reverse)
                break
            local = restart

    def _next_year_edge(self, year: int, reverse: bool) -> datetime.datetime | None:
        assert self.years is not None
        if reverse:
            earlier = [y for y in self.years if y < year]
            if not earlier:
                return None
            return datetime.datetime(max(earlier) + 1, 1, 1, tzinfo=self.zone)
        later = [y for y in self.years if y > year]
        if not later:
            return None
        return datetime.datetime(min(later), 1, 1, tzinfo=self.zone) - datetime.timedelta(seconds=1)

    # ------------------------------------------------------------------------------------------------

    def inputs(self, moment: datetime.datetime) -> literals_pb2.LiteralMap:
        """The inputs a scheduled launch gives: the scheduled time in the kickoff input, if it names one."""
        inputs = literals_pb2.LiteralMap()
        if self.kickoff_input:
            primitive = inputs.literals[self.kickoff_input].scalar.primitive
            primitive.datetime.FromDatetime(moment.astimezone(UTC).replace(tzinfo=None))
        return inputs


def execution_name(project: str, domain: str, name: str, moment: datetime.datetime) -> str:
    """The one execution name of a launch plan's fire time. As in Flyte's native scheduler: "f" and 19
    characters of a hash of the launch plan's identity and the time's Unix seconds. Unlike Flyte the version is
    left out, so a newly activated version (or a scheduler still reading the old one) cannot launch a time
    twice."""
    seconds = int(moment.timestamp())
    digest = hashlib.sha256(f"{project}:{domain}:{name}:{seconds}".encode()).hexdigest()
    return "f" + digest[:_NAME_HASH_LENGTH]


def parse(schedule: schedule_pb2.Schedule, what: str) -> Schedule | None:
    """The schedule of a launch plan's spec (None when it has none); INVALID_ARGUMENT naming ``what`` (the
    launch plan) and the field at fault."""
    kickoff = schedule.kickoff_time_input_arg
    which = schedule.WhichOneof("ScheduleExpression")
    if which == "rate":
        value, unit = schedule.rate.value, schedule.rate.unit
        if unit not in _RATE_UNITS:
            raise _invalid(what, "rate.unit", f"is {unit}, not MINUTE (0), HOUR (1) or DAY (2)")
        if value < 1:
            raise _invalid(what, "rate.value", "must be at least 1")
        return Schedule("rate", every=value * _RATE_UNITS[unit], kickoff_input=kickoff)
    if which == "cron_schedule":
        offset = _offset(what, schedule.cron_schedule.offset)
        return _cron(what, "cron_schedule.schedule", schedule.cron_schedule.schedule, offset, kickoff)
    if which == "cron_expression":
        return _cron(what, "cron_expression", schedule.cron_expression, datetime.timedelta(0), kickoff)
    return None


def catch_up_limit(spec: launch_plan_pb2.LaunchPlanSpec, default: int, what: str) -> int:
    """How many missed times of this launch plan a catch-up launches: its ``roost/schedule-catch-up``
    annotation (``false``: none, ``true``: ``default``, or a number), else ``default``."""
    value = spec.annotations.values.get(CATCH_UP_ANNOTATION)
    text = (value or "true").strip().lower()
    if text == "true":
        return default
    if text == "false":
        return 0
    if text.isdigit():
        return int(text)
    field = f"spec.annotations['{CATCH_UP_ANNOTATION}']"
    raise InvalidArgument(
        f"{what}: {field} is '{value}'; it must be 'true', 'false' or a number of missed times", field=field
    )


def _invalid(what: str, field: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{what}: {FIELD}.{field} {problem}", field=f"{FIELD}.{field}")


def _cron(what: str, field: str, text: str, offset: datetime.timedelta, kickoff: str) -> Schedule:
    from cronsim import CronSim, CronSimError

    zone: datetime.tzinfo = UTC
    expression = text.strip()
    prefixed = _ZONE_PREFIX.match(expression)
    if prefixed:
        zone_name, expression = prefixed.group(1), prefixed.group(2).strip()
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid(
                what, field, f"names time zone '{zone_name}', which is not an IANA time zone"
            ) from None
    if not expression:
        raise _invalid(what, field, "is empty; give a cron expression or an alias such as @hourly")
    years: frozenset[int] | None = None
    fields = expression.split()
    if expression.lower() in CRON_ALIASES:
        expression = CRON_ALIASES[expression.lower()]
    elif len(fields) == 6 and field == "cron_expression":
        expression, years = _aws(what, field, text, fields)
    elif len(fields) != 5:
        raise _invalid(
            what,
            field,
            f"'{text}' has {len(fields)} fields; a cron schedule has 5 (minute hour day-of-month month "
            "day-of-week) or is an alias (@hourly, @daily, @weekly, @monthly, @yearly)",
        )
    try:
        CronSim(expression, datetime.datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise _invalid(what, field, f"'{text}' is not a valid cron expression: {exc}") from None
    return Schedule(
        "cron", expression=expression, zone=zone, offset=offset, years=years, kickoff_input=kickoff
    )


def _aws(what: str, field: str, text: str, fields: list[str]) -> tuple[str, frozenset[int] | None]:
    """A 6-field AWS expression as a 5-field one and its years."""
    minute, hour, day, month, weekday, year = fields
    if day != "?" and weekday != "?":
        raise _invalid(
            what, field, f"'{text}' is in AWS form (6 fields), which needs '?' in day-of-month or day-of-week"
        )
    weekday = _AWS_WEEKDAY.sub(lambda number: str(int(number.group(1)) - 1), weekday)
    expression = " ".join((minute, hour, day.replace("?", "*"), month, weekday.replace("?", "*")))
    if year in ("*", "?"):
        return expression, None
    years: set[int] = set()
    for part in year.split(","):
        matched = re.fullmatch(r"(\d{4})(?:-(\d{4}))?(?:/(\d+))?|\*/(\d+)", part)
        if matched is None:
            raise _invalid(
                what, field, f"'{text}' has a year field '{year}' that is not a year, range or list"
            )
        if matched.group(4):
            first, last, step = _FIRST_YEAR, _LAST_YEAR, int(matched.group(4))
        else:
            first = int(matched.group(1))
            last = int(matched.group(2) or (first if matched.group(3) is None else _LAST_YEAR))
            step = int(matched.group(3) or 1)
        if step < 1 or not _FIRST_YEAR <= first <= last <= _LAST_YEAR:
            raise _invalid(
                what, field, f"'{text}' has a year field '{year}' outside {_FIRST_YEAR}-{_LAST_YEAR}"
            )
        years.update(range(first, last + 1, step))
    return expression, frozenset(years)


def _offset(what: str, text: str) -> datetime.timedelta:
    if not text:
        return datetime.timedelta(0)
    matched = _OFFSET.fullmatch(text.strip())
    if matched is None or text.strip() in ("P", "-P", "+P"):
        raise _invalid(
            what,
            "cron_schedule.offset",
            f"'{text}' is not an ISO 8601 duration of weeks, days, hours, minutes and seconds (e.g. PT1H, "
            "-P1D, P1DT30M); years and months are not a fixed length",
        )
    sign, weeks, days, hours, minutes, seconds = matched.groups()
    delta = datetime.timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float((seconds or "0").replace(",", ".")),
    )
    return -delta if sign == "-" else delta
