"""Schedules as Flyte defines them: cron expressions and aliases, the offset, time zones and daylight saving,
the legacy AWS form, fixed rates, execution names, and every message about a bad schedule."""

from __future__ import annotations

import datetime
import itertools

import pytest
from flyteidl.admin import launch_plan_pb2, schedule_pb2

from roost_admin.errors import InvalidArgument
from roost_admin.services import schedules
from roost_admin.services.schedules import Schedule

UTC = datetime.UTC
WHAT = "launch plan 'flytesnacks/development/lp@v1'"
START = datetime.datetime(2026, 1, 1, tzinfo=UTC)


def _cron(expression: str, offset: str = "", kickoff: str = "") -> Schedule:
    schedule = schedules.parse(
        schedule_pb2.Schedule(
            cron_schedule=schedule_pb2.CronSchedule(schedule=expression, offset=offset),
            kickoff_time_input_arg=kickoff,
        ),
        WHAT,
    )
    assert schedule is not None
    return schedule


def _times(
    schedule: Schedule, start: datetime.datetime, count: int, anchor: datetime.datetime = START
) -> list:
    return list(itertools.islice(schedule.forward(start, anchor), count))


def _at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("alias", "first_two"),
    [
        ("@hourly", ["2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"]),
        ("hourly", ["2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"]),
        ("HOURS", ["2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"]),
        ("@daily", ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]),
        ("days", ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]),
        ("@midnight", ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]),
        ("@weekly", ["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"]),
        ("@monthly", ["2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"]),
        ("months", ["2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"]),
        ("@yearly", ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"]),
        ("@annually", ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"]),
        ("annually", ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"]),
    ],
)
def test_flytekits_cron_aliases(alias, first_two):
    assert [t.isoformat() for t in _times(_cron(alias), START, 2)] == first_two


def test_a_five_field_cron_is_utc_and_its_times_are_strictly_after():
    schedule = _cron("*/15 9-10 * * 1-5")
    assert [t.isoformat() for t in _times(schedule, _at("2026-01-02T09:15:00+00:00"), 6)] == [
        "2026-01-02T09:30:00+00:00",
        "2026-01-02T09:45:00+00:00",
        "2026-01-02T10:00:00+00:00",
        "2026-01-02T10:15:00+00:00",
        "2026-01-02T10:30:00+00:00",
        "2026-01-02T10:45:00+00:00",
    ]
    assert schedule.after(_at("2026-01-02T10:50:00+00:00"), START) == _at("2026-01-05T09:00:00+00:00")
    assert list(itertools.islice(schedule.backward(_at("2026-01-05T09:00:00+00:00"), START), 2)) == [
        _at("2026-01-02T10:45:00+00:00"),
        _at("2026-01-02T10:30:00+00:00"),
    ]


def test_the_offset_shifts_every_time_and_the_kickoff_input_gets_the_shifted_time():
    schedule = _cron("@daily", offset="PT2H30M", kickoff="when")
    assert _times(schedule, START, 2) == [_at("2026-01-01T02:30:00+00:00"), _at("2026-01-02T02:30:00+00:00")]
    earlier = _cron("0 6 * * *", offset="-P1D")
    assert _times(earlier, START, 1) == [_at("2026-01-01T06:00:00+00:00")]
    assert earlier.after(_at("2026-01-01T06:00:00+00:00"), START) == _at("2026-01-02T06:00:00+00:00")
    inputs = schedule.inputs(_at("2026-01-01T02:30:00+00:00"))
    assert inputs.literals["when"].scalar.primitive.datetime.ToDatetime(tzinfo=UTC) == _at(
        "2026-01-01T02:30:00+00:00"
    )
    assert _cron("@daily").inputs(START).literals == {}


def test_a_named_zone_keeps_wall_clock_time_and_daylight_saving_neither_skips_nor_doubles():
    daily = _cron("CRON_TZ=Europe/Berlin 30 2 * * *")
    # Spring: 02:30 does not exist on 29 March; it runs when the clock jumps (03:00 CEST), once.
    spring = _times(daily, _at("2026-03-27T12:00:00+00:00"), 4)
    assert [t.astimezone(daily.zone).isoformat() for t in spring] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    # Autumn: 02:30 happens twice on 25 October; it runs once.
    autumn = _times(daily, _at("2026-10-23T12:00:00+00:00"), 4)
    assert [t.astimezone(daily.zone).isoformat() for t in autumn] == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]
    # An alias in a zone.
    paris = _cron("CRON_TZ=Europe/Paris @daily")
    assert _times(paris, START, 1) == [_at("2026-01-01T23:00:00+00:00")]
    # An hourly schedule runs every real hour: 23 on the short day, 25 on the long one, none twice.
    hourly = _cron("TZ=America/New_York 0 * * * *")
    short_day = list(hourly.between(_at("2026-03-08T00:00-05:00"), _at("2026-03-08T23:59-04:00"), START))
    long_day = list(hourly.between(_at("2026-11-01T00:00-04:00"), _at("2026-11-01T23:59-05:00"), START))
    assert (len(short_day), len(long_day)) == (23, 25)
    for times in (short_day, long_day):
        assert len(set(times)) == len(times)
        assert all(
            later - earlier == datetime.timedelta(hours=1) for earlier, later in itertools.pairwise(times)
        )


def test_the_legacy_cron_expression_takes_five_fields_or_the_aws_form():
    five = schedules.parse(schedule_pb2.Schedule(cron_expression="0 10 * * 1"), WHAT)
    assert five is not None and five.after(START, START) == _at("2026-01-05T10:00:00+00:00")
    # AWS: day-of-week 1-7 from Sunday, so 2 is Monday; '?' for any; the sixth field is the year.
    aws = schedules.parse(schedule_pb2.Schedule(cron_expression="0 10 ? * 2 *"), WHAT)
    assert aws is not None and aws.expression == "0 10 * * 1"
    assert aws.after(START, START) == _at("2026-01-05T10:00:00+00:00")
    years = schedules.parse(schedule_pb2.Schedule(cron_expression="0 0 1 1 ? 2026,2028-2029"), WHAT)
    assert years is not None
    assert _times(years, _at("2025-06-01T00:00:00+00:00"), 5) == [
        _at("2026-01-01T00:00:00+00:00"),
        _at("2028-01-01T00:00:00+00:00"),
        _at("2029-01-01T00:00:00+00:00"),
    ]
    assert list(itertools.islice(years.backward(_at("2029-01-01T00:00:00+00:00"), START), 3)) == [
        _at("2028-01-01T00:00:00+00:00"),
        _at("2026-01-01T00:00:00+00:00"),
    ]


def test_a_fixed_rate_counts_whole_periods_from_its_anchor():
    anchor = _at("2026-01-01T00:00:07+00:00")
    for unit, period in (
        (schedule_pb2.MINUTE, datetime.timedelta(minutes=5)),
        (schedule_pb2.HOUR, datetime.timedelta(hours=5)),
        (schedule_pb2.DAY, datetime.timedelta(days=5)),
    ):
        rate = schedules.parse(schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=5, unit=unit)), WHAT)
        assert rate is not None and rate.kind == "rate" and rate.every == period
        assert _times(rate, anchor, 3, anchor) == [anchor + period, anchor + 2 * period, anchor + 3 * period]
        assert rate.after(anchor + period, anchor) == anchor + 2 * period
        assert list(rate.backward(anchor + 2 * period + datetime.timedelta(seconds=1), anchor)) == [
            anchor + 2 * period,
            anchor + period,
        ]
        assert list(rate.between(anchor, anchor + 2 * period, anchor)) == [
            anchor + period,
            anchor + 2 * period,
        ]


def test_execution_names_are_the_launch_plans_and_the_times_alone():
    name = schedules.execution_name("flytesnacks", "development", "lp", _at("2026-01-01T10:00:00+00:00"))
    assert len(name) == 20 and name[0] == "f" and name.isalnum() and name == name.lower()
    assert name == schedules.execution_name(
        "flytesnacks", "development", "lp", _at("2026-01-01T11:00:00+01:00")
    ), "the same instant in another zone is the same time"
    others = {
        schedules.execution_name("flytesnacks", "development", "lp", _at("2026-01-01T10:01:00+00:00")),
        schedules.execution_name("flytesnacks", "development", "lp2", _at("2026-01-01T10:00:00+00:00")),
        schedules.execution_name("flytesnacks", "staging", "lp", _at("2026-01-01T10:00:00+00:00")),
    }
    assert name not in others and len(others) == 3


FIELD = "spec.entity_metadata.schedule"


@pytest.mark.parametrize(
    ("schedule", "field", "message"),
    [
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="61 * * * *")),
            "cron_schedule.schedule",
            "'61 * * * *' is not a valid cron expression: Bad minute",
        ),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="0 0 31 2 *")),
            "cron_schedule.schedule",
            "'0 0 31 2 *' is not a valid cron expression: Bad day-of-month",
        ),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="* * *")),
            "cron_schedule.schedule",
            "'* * *' has 3 fields; a cron schedule has 5 (minute hour day-of-month month day-of-week) or is an "
            "alias (@hourly, @daily, @weekly, @monthly, @yearly)",
        ),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="0 10 ? * 2 *")),
            "cron_schedule.schedule",
            "'0 10 ? * 2 *' has 6 fields; a cron schedule has 5 (minute hour day-of-month month day-of-week) or "
            "is an alias (@hourly, @daily, @weekly, @monthly, @yearly)",
        ),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="@fortnightly")),
            "cron_schedule.schedule",
            "'@fortnightly' has 1 fields; a cron schedule has 5 (minute hour day-of-month month day-of-week) or "
            "is an alias (@hourly, @daily, @weekly, @monthly, @yearly)",
        ),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule=" ")),
            "cron_schedule.schedule",
            "is empty; give a cron expression or an alias such as @hourly",
        ),
        (
            schedule_pb2.Schedule(
                cron_schedule=schedule_pb2.CronSchedule(schedule="CRON_TZ=Mars/Olympus 0 * * * *")
            ),
            "cron_schedule.schedule",
            "names time zone 'Mars/Olympus', which is not an IANA time zone",
        ),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="@daily", offset="P1M")),
            "cron_schedule.offset",
            "'P1M' is not an ISO 8601 duration of weeks, days, hours, minutes and seconds (e.g. PT1H, -P1D, "
            "P1DT30M); years and months are not a fixed length",
        ),
        (
            schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="@daily", offset="PT")),
            "cron_schedule.offset",
            "'PT' is not an ISO 8601 duration of weeks, days, hours, minutes and seconds (e.g. PT1H, -P1D, "
            "P1DT30M); years and months are not a fixed length",
        ),
        (
            schedule_pb2.Schedule(cron_expression="0 10 1 * 2 *"),
            "cron_expression",
            "'0 10 1 * 2 *' is in AWS form (6 fields), which needs '?' in day-of-month or day-of-week",
        ),
        (
            schedule_pb2.Schedule(cron_expression="0 10 ? * 2 next"),
            "cron_expression",
            "'0 10 ? * 2 next' has a year field 'next' that is not a year, range or list",
        ),
        (
            schedule_pb2.Schedule(cron_expression="0 10 ? * 2 1900"),
            "cron_expression",
            "'0 10 ? * 2 1900' has a year field '1900' outside 1970-2199",
        ),
        (
            schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=0, unit=schedule_pb2.HOUR)),
            "rate.value",
            "must be at least 1",
        ),
        (
            schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=3, unit=7)),  # type: ignore[arg-type]
            "rate.unit",
            "is 7, not MINUTE (0), HOUR (1) or DAY (2)",
        ),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_launch_plan_and_field(schedule, field, message):
    with pytest.raises(InvalidArgument) as refused:
        schedules.parse(schedule, WHAT)
    assert refused.value.field == f"{FIELD}.{field}"
    assert refused.value.message == f"{WHAT}: {FIELD}.{field} {message}"


def test_the_catch_up_annotation():
    spec = launch_plan_pb2.LaunchPlanSpec()
    assert schedules.catch_up_limit(spec, 100, WHAT) == 100
    for value, limit in (("true", 100), ("FALSE", 0), ("3", 3), (" 0 ", 0)):
        spec.annotations.values[schedules.CATCH_UP_ANNOTATION] = value
        assert schedules.catch_up_limit(spec, 100, WHAT) == limit
    spec.annotations.values[schedules.CATCH_UP_ANNOTATION] = "sometimes"
    with pytest.raises(InvalidArgument) as refused:
        schedules.catch_up_limit(spec, 100, WHAT)
    assert refused.value.message == (
        f"{WHAT}: spec.annotations['roost/schedule-catch-up'] is 'sometimes'; it must be 'true', 'false' or a "
        "number of missed times"
    )
