"""Admin settings: defaults for a laptop, overridden by a YAML file and ``ROOST_*`` environment variables.

Precedence, lowest first: the defaults below, the config file (``--config`` or ``$ROOST_CONFIG``, read by
pydantic-settings' YAML source), environment variables (``ROOST_DB_URL``, ``ROOST_GRPC_PORT``, nested keys with
``__``: ``ROOST_ENGINE__POLL_INTERVAL``), then command-line options. Unknown keys are an error naming them.

One :class:`Settings` is made at start (:func:`load_settings`) and passed to whatever needs it; nothing reads
settings from the environment later.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from roost_admin.auth_settings import AuthSettings, TLSSettings

DEFAULT_DOMAINS = ("development", "staging", "production")


_TASK_RESOURCES = ("cpu", "gpu", "memory", "storage", "ephemeral_storage")


class TaskResourceSettings(BaseModel):
    """Task resource defaults and limits of every project (``task_resources:``, flyteadmin's setting of the
    same name): the last level of TASK_RESOURCE attributes, under every project, domain and workflow one."""

    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, str] = Field(default_factory=dict)
    """Requests of tasks that set none: ``{cpu: 500m, memory: 1Gi}``."""
    limits: dict[str, str] = Field(default_factory=dict)
    """The most a task may request or be limited to; more is lowered to this."""

    @field_validator("defaults", "limits")
    @classmethod
    def _quantities(cls, values: dict[str, str]) -> dict[str, str]:
        from roost_core.quantity import QuantityError, parse_quantity

        for name, value in values.items():
            if name not in _TASK_RESOURCES:
                raise ValueError(f"unknown resource {name!r}; known: {', '.join(_TASK_RESOURCES)}")
            try:
                if parse_quantity(value) < 0:
                    raise ValueError(f"{name}: {value!r} is negative")
            except QuantityError as exc:
                raise ValueError(f"{name}: {value!r} is not a valid quantity: {exc}") from None
        return values


class SchedulerSettings(BaseModel):
    """The scheduler of launch plans (``scheduler:`` in the settings file, ``ROOST_SCHEDULER__...``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Whether ``roost start`` runs the scheduler (``roost scheduler`` runs it alone whatever this says)."""
    poll_interval: float = Field(default=1.0, gt=0)
    """How often the scheduler looks for schedules that are due, in seconds (its lag is about this much)."""
    catch_up_limit: int = Field(default=100, ge=0)
    """After downtime, how many missed times of one schedule are launched at most (the latest ones, oldest
    first); older ones are skipped, and logged, and ``roost backfill`` can still make them. A launch plan can
    ask for fewer with its ``roost/schedule-catch-up`` annotation."""
    misfire_grace: float = Field(default=60.0, ge=0)
    """How late, in seconds, a time may be launched and still count as on time rather than missed."""
    lease_seconds: float = Field(default=30.0, gt=0)
    """How long a scheduler's claim on a schedule lasts; another scheduler takes over a dead one's after it."""


TERMINAL_PHASES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
"""The phases an execution ends in, by their flyteidl names."""


class WebhookSettings(BaseModel):
    """A webhook told when executions end: a JSON POST signed with HMAC-SHA256 (``notifications.webhooks``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    """The channel's name (in the outbox and in messages)."""
    url: str = Field(pattern=r"^https?://\S+$")
    secret: str = Field(min_length=16)
    """The HMAC-SHA256 key the receiver checks the signature with (at least 16 characters)."""
    phases: list[str] = Field(default_factory=lambda: list(TERMINAL_PHASES))
    """The terminal phases it is told of."""
    projects: list[str] = Field(default_factory=list)
    """Only executions of these projects (all when empty)."""
    domains: list[str] = Field(default_factory=list)
    """Only executions of these domains (all when empty)."""

    @field_validator("phases")
    @classmethod
    def _terminal(cls, value: list[str]) -> list[str]:
        unknown = [phase for phase in value if phase not in TERMINAL_PHASES]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a terminal phase ({', '.join(TERMINAL_PHASES)})")
        return value


class SmtpSettings(BaseModel):
    """The mail server that sends the email, Slack and PagerDuty notifications of launch plans and executions
    (flyteadmin sends all three as email: to people, to a Slack channel's address, to a PagerDuty integration's
    address)."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(default=25, gt=0, lt=65536)
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    """The From address."""
    starttls: bool = False
    username: str = ""
    password: str = ""


DEFAULT_SUBJECT = 'Notice: Execution "{{ name }}" has {{ phase }} in "{{ domain }}".'
DEFAULT_BODY = (
    'Execution "{{ name }}" has {{ phase }} in "{{ domain }}" of project "{{ project }}" '
    "(workflow {{ workflow.name }}, launch plan {{ launch_plan.name }}). {{ error }}\n{{ link }}"
)


DEFAULT_ROUTES = {"email": "email", "slack": "email", "pager_duty": "email"}
"""flyteadmin's way: every kind of notification is an email."""


class NotificationSettings(BaseModel):
    """Notifications of ended executions, delivered from a durable outbox (``notifications:``)."""

    model_config = ConfigDict(extra="forbid")

    webhooks: list[WebhookSettings] = Field(default_factory=list)
    max_attempts: int = Field(default=8, ge=1)
    """Deliveries tried before a notification is recorded as failed."""
    backoff: float = Field(default=2.0, gt=0)
    """Seconds before the first retry; each next one waits twice as long, up to ``max_backoff``."""
    max_backoff: float = Field(default=300.0, gt=0)
    timeout: float = Field(default=10.0, gt=0)
    """Seconds a receiver has to answer one delivery."""
    poll_interval: float = Field(default=1.0, gt=0)
    """How often the notifier looks for notifications to deliver."""
    console_url: str = ""
    """The console's base URL, for the link to the execution in every message ("" for none)."""
    smtp: SmtpSettings | None = None
    """The mail server; without one, notifications routed to the email channel are not sent."""
    email_subject: str = DEFAULT_SUBJECT
    """The subject of notification emails, with Flyte's variables: ``{{ project }}``, ``{{ domain }}``,
    ``{{ name }}``, ``{{ phase }}``, ``{{ error }}``, ``{{ link }}``, ``{{ workflow.name }}`` (and
    ``.project``, ``.domain``, ``.version``), ``{{ launch_plan.name }}`` (likewise)."""
    email_body: str = DEFAULT_BODY
    """The body of notification emails, with the same variables (a notification's own template wins)."""
    routes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ROUTES))
    """The channel each kind of Flyte notification is sent through (by its registered name: ``email``,
    ``slack``, ``pagerduty``, or a plugin's); kinds left out keep flyteadmin's way, email."""
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Each channel's settings by its name (``slack: {url, routes, template}``, ``pagerduty: {routing_key,
    routes, severity, summary}``)."""

    @field_validator("routes")
    @classmethod
    def _all_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DEFAULT_ROUTES))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a kind of notification ({', '.join(DEFAULT_ROUTES)})"
            )
        return {**DEFAULT_ROUTES, **value}

    @field_validator("webhooks")
    @classmethod
    def _unique(cls, value: list[WebhookSettings]) -> list[WebhookSettings]:
        names = [hook.name for hook in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"webhook names must be unique: {', '.join(twice)} used more than once")
        return value


EventKind = Literal["workflow", "node", "task"]
EVENT_KINDS: tuple[EventKind, ...] = ("workflow", "node", "task")
"""The kinds of execution event published (flyteadmin's ``eventTypes``)."""


class SubscriberSettings(BaseModel):
    """A subscriber to execution events as CloudEvents (``events.subscribers``): a NATS server
    (``nats://`` URL; JetStream when ``stream`` is set) or a webhook (``http(s)://``, signed like the
    notification webhooks)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    """The subscriber's name (its cursor in the database)."""
    url: str = Field(pattern=r"^(nats|tls|https?)://\S+$")
    subject: str = Field(default="roost.events", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    """NATS: events go to ``<subject>.<project>.<domain>.<kind>``."""
    stream: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    """NATS: the JetStream stream (made when missing, over ``<subject>.>``) whose acknowledgement delivers an
    event; "" publishes to core NATS (delivered once the server has it)."""
    secret: str = ""
    """Webhook: the HMAC-SHA256 key of the ``X-Roost-Signature`` header (at least 16 characters)."""
    types: list[EventKind] = Field(default_factory=lambda: list(EVENT_KINDS))
    """The kinds of event it is sent."""
    projects: list[str] = Field(default_factory=list)
    """Only events of these projects (all when empty)."""
    domains: list[str] = Field(default_factory=list)
    """Only events of these domains (all when empty)."""

    @property
    def is_nats(self) -> bool:
        """Whether the subscriber is a NATS server (else a webhook)."""
        return not self.url.startswith("http")

    @model_validator(mode="after")
    def _secret(self) -> SubscriberSettings:
        if not self.is_nats and len(self.secret) < 16:
            raise ValueError(f"subscriber {self.name!r}: a webhook needs a secret of at least 16 characters")
        return self


class EventSettings(BaseModel):
    """Publishing execution events as CloudEvents from a durable outbox (``events:``)."""

    model_config = ConfigDict(extra="forbid")

    subscribers: list[SubscriberSettings] = Field(default_factory=list)
    batch: int = Field(default=200, ge=1)
    """Events one round sends a subscriber at most."""
    backoff: float = Field(default=1.0, gt=0)
    """Seconds before a subscriber that failed is tried again; doubling up to ``max_backoff``."""
    max_backoff: float = Field(default=60.0, gt=0)
    timeout: float = Field(default=5.0, gt=0)
    """Seconds a broker or receiver has to take one event."""
    poll_interval: float = Field(default=0.5, gt=0)
    """How often the publisher looks for new events."""

    @field_validator("subscribers")
    @classmethod
    def _unique(cls, value: list[SubscriberSettings]) -> list[SubscriberSettings]:
        names = [subscriber.name for subscriber in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"subscriber names must be unique: {', '.join(twice)} used more than once")
        return value


def default_data_dir() -> Path:
    """``$ROOST_HOME``, else ``~/.roost``."""
    return Path(os.environ.get("ROOST_HOME") or Path.home() / ".roost")


class Settings(BaseSettings):
    """Everything ``roost start`` and ``roost engine`` can be told."""

    model_config = SettingsConfigDict(env_prefix="ROOST_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    """Where the SQLite database, the local blob store and the URL signing key live."""
    db_url: str = ""
    """SQLAlchemy URL; empty means ``sqlite:///<data_dir>/roost.db``. PostgreSQL: ``postgresql+psycopg://...``."""
    storage: str = ""
    """Where execution data goes: ``file:///path`` or ``s3://bucket/prefix``; empty means ``<data_dir>/data``."""
    storage_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-scheme blob store settings, e.g. ``{"s3": {"endpoint_url": ..., "access_key_id": ...}}``."""
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 8089
    http_host: str = "127.0.0.1"
    http_port: int = 8088
    public_http_url: str = ""
    """How clients reach the HTTP endpoint (signed upload and download URLs); empty means http://host:port."""
    public_grpc_endpoint: str = ""
    """How task processes reach the gRPC endpoint (``host:port``, given to them as ``FLYTE_PLATFORM_URL`` and
    ``ROOST_ENDPOINT``); empty means the bound host and port. Set it when ``roost engine`` runs on another
    host, or the admin sits behind a proxy."""
    public_grpc_insecure: bool = True
    """Whether task processes talk plaintext to ``public_grpc_endpoint`` (False behind a TLS proxy)."""
    domains: list[str] = Field(default_factory=lambda: list(DEFAULT_DOMAINS))
    default_projects: list[str] = Field(default_factory=lambda: ["flytesnacks"])
    """Projects created at start if missing (flytekit's default project is flytesnacks)."""
    max_message_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    """Largest gRPC request or response (both the server's receive and send limits): a larger request is refused
    with RESOURCE_EXHAUSTED before it is read, and list responses are cut into pages that fit. flytekit's own
    receive limit is 20 MiB too."""
    max_string_bytes: int = Field(default=1024 * 1024, gt=0)
    """Longest string field of a request, in UTF-8 bytes (a description, a filter, a task's custom config); the
    values inside literals are data and not limited. Longer ones get INVALID_ARGUMENT naming the field."""
    max_list_items: int = Field(default=100_000, gt=0)
    """Most entries of one list or map field of a request (nodes of a workflow, items of a collection literal, ...);
    more get INVALID_ARGUMENT naming the field."""
    max_inputs: int = Field(default=1_000, gt=0)
    """Most inputs (or outputs) in one set of them: the literals of an execution's inputs, the variables of an
    interface, the parameters of a launch plan; more get INVALID_ARGUMENT naming the field."""
    max_literal_depth: int = Field(default=32, gt=0)
    """Deepest nesting of literals (a list of maps of lists ...) and of literal types in a request; deeper ones get
    INVALID_ARGUMENT naming the field. (Protobuf itself refuses messages nested more than 100 deep.)"""
    max_upload_bytes: int = Field(default=5 * 1024**3, gt=0)
    """Largest body the HTTP endpoint stores through a signed upload URL (5 GiB, S3's limit for one PUT); a larger
    one is refused with 413 and nothing is stored."""
    workers: int = 2
    """Engine workers running inside ``roost start`` (0: leave executions to ``roost engine`` processes)."""
    lease_seconds: float = 30.0
    """How long a worker's claim on an execution lasts without a heartbeat before another may take it."""
    worker_poll_interval: float = 0.5
    """How often an idle engine worker looks in the database for executions that became due elsewhere (created
    or woken by another process); wake-ups within one process are immediate."""
    executions_per_worker: int = 100
    """How many running executions one engine worker holds at most (it evaluates them in turn)."""
    engine: dict[str, Any] = Field(default_factory=dict)
    """The core engine's configuration (``roost_core.engine.EngineConfig`` keys: handlers, ...)."""
    task_log_days: float = Field(default=7.0, gt=0)
    """How long local processes' logs are kept under ``<data_dir>/task-logs`` (where ``roost start`` puts them
    unless ``engine.handlers.local-process`` sets ``log_dir`` or ``keep_logs``), so the console shows ended
    and failed attempts' logs; older attempts' log folders are removed when the workers start."""
    task_resources: TaskResourceSettings = Field(default_factory=TaskResourceSettings)
    """Task resource defaults and limits where no TASK_RESOURCE attribute sets them."""
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    """The scheduler of launch plans with a schedule (cron or fixed rate)."""
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    """Where to tell of ended executions (webhooks), and how hard to try."""
    events: EventSettings = Field(default_factory=EventSettings)
    """Where execution events are published as CloudEvents (NATS, webhooks)."""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    """Authentication and per-project roles (off by default; ``auth.enabled`` turns them on)."""
    tls: TLSSettings = Field(default_factory=TLSSettings)
    """Certificate files for serving gRPC and HTTP over TLS."""

    _config_file: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _remember_the_file(self) -> Settings:
        self._config_file = _config_file(type(self))
        return self

    @property
    def config_file(self) -> str | None:
        """The YAML file these settings were read from (``--config`` or ``$ROOST_CONFIG``), if any: messages about
        a setting name it."""
        return self._config_file

    @field_validator("domains")
    @classmethod
    def _some_domains(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one domain is needed")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Options given in code win over the environment, which wins over the file (the class's ``yaml_file``,
        set by :func:`load_settings`)."""
        return (init_settings, env_settings, _YamlFile(settings_cls))

    @property
    def database_url(self) -> str:
        """The database URL, defaulted into the data folder."""
        return self.db_url or f"sqlite:///{self.data_dir / 'roost.db'}"

    @property
    def storage_prefix(self) -> str:
        """The blob store prefix, defaulted into the data folder."""
        return (self.storage or (self.data_dir / "data").as_uri()).rstrip("/")

    @property
    def grpc_endpoint(self) -> str:
        """``host:port`` of the gRPC endpoint."""
        return f"{self.grpc_host}:{self.grpc_port}"


def _config_file(settings_cls: type[BaseSettings]) -> str | None:
    """The YAML file a settings class reads: the one :func:`load_settings` named, else ``$ROOST_CONFIG``."""
    named = settings_cls.model_config.get("yaml_file")
    return str(named) if named else os.environ.get("ROOST_CONFIG") or None


class _YamlFile(YamlConfigSettingsSource):
    """pydantic-settings' YAML source over :func:`_config_file`, refusing a file that cannot be read or holds
    something other than a mapping, by name."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        path = _config_file(settings_cls)
        if path is not None:
            try:
                Path(path).open("rb").close()
            except OSError as exc:
                raise ValueError(f"cannot read the config file {path}: {exc}") from exc
        super().__init__(settings_cls, yaml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = super()._read_file(file_path)
        if not isinstance(data, dict):
            raise ValueError(f"the config file {file_path} must hold a mapping of settings")
        return data


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, a config file (``config_file``, else ``$ROOST_CONFIG``), the environment and
    ``overrides`` (None values are ignored)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if config_file is None:
        return Settings(**values)
    # The file is the class's setting in pydantic-settings: a subclass names it, nothing global is changed.
    from_file = type(
        "Settings",
        (Settings,),
        {"model_config": SettingsConfigDict(**{**Settings.model_config, "yaml_file": str(config_file)})},
    )
    settings: Settings = from_file(**values)
    return settings
