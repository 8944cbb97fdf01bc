"""``campaign broker setup``: a RabbitMQ user per service, allowed its own exchanges and queues only.

Each service connects as a user named after it, whose vhost permissions (regular
expressions on names) let it

- configure, write and read its own queues and exchanges: ``<service>.<city>``,
  ``<service>.other-cities``, the inbox exchanges in front of them, ``<service>.events``
  where it publishes, ``dlq.<service>``;
- read (bind to) the ``<source>.events`` exchanges it consumes, and there, by topic
  permission, only the kinds of event it handles;
- declare and use ``campaign.dead-letters`` (every service's queues dead-letter there);
- reporting: publish ``campaign.summaries``;
- registration answers nameko RPC (``nameko-rpc``, queue ``rpc-registration``) and the
  services calling it may publish there to ``registration.*`` only and read their own reply
  queues ``rpc.reply-<service>-<uuid>``.

A partner's user may only declare its own server-named queues (``amq.gen-...``) and bind
them to ``campaign.summaries`` with a key starting ``summary.``: binding to any other
exchange is refused (ACCESS_REFUSED).

Exchanges a service reads but does not own are declared here, as the administrator, so a
service never needs the right to configure (or delete) another's exchange.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import click

from shared.config import SERVICES, WORKERS
from shared.consumer import DEAD_LETTER_EXCHANGE
from shared.events import SUMMARY_EXCHANGE

PARTNER = "partner"
RPC_EXCHANGE = "nameko-rpc"  # nameko's default
# Queues a service declares besides its event queues (the consumer's names are <service>.*).
EXTRA_QUEUES = {"notification": ["coordinator.alerts"]}


@dataclass(frozen=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class BrokerUser:
    """A broker user's vhost permissions: regular expressions on queue and exchange names."""

    name: str
    configure: str
    write: str
    read: str
    topics: tuple[TopicPermission, ...] = field(default=())

    @property
    def password_variable(self) -> str:
        return f"{self.name.upper()}_BROKER_PASSWORD"


def _any_of(names: list[str]) -> str:
    """A regular expression matching exactly these names (each may hold a ``.*`` tail)."""
    return "^(" + "|".join(dict.fromkeys(names)) + ")$"


def _kinds(kinds: list[str]) -> str:
    return "^(" + "|".join(sorted(set(re.escape(k) for k in kinds))) + r")\."


def what_it_uses(service: str) -> tuple[dict[str, list[str]], bool, list[str]]:
    """(event kinds it consumes by source exchange, whether it answers RPC, services it calls by RPC)."""
    from nameko.rpc import Rpc, RpcProxy

    from campaign.runner import service_class
    from shared.consumer import EventConsumer

    cls = service_class(service)
    consumed: dict[str, list[str]] = {}
    answers_rpc = False
    for attribute in dir(cls):
        for entrypoint in getattr(getattr(cls, attribute), "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventConsumer):
                for event in entrypoint.handlers:
                    consumed.setdefault(event.exchange, []).append(event.name)
            answers_rpc |= isinstance(entrypoint, Rpc)
    calls = sorted({v.target_service for v in vars(cls).values() if isinstance(v, RpcProxy)})
    return consumed, answers_rpc, calls


def service_user(service: str) -> BrokerUser:
    consumed, answers_rpc, calls = what_it_uses(service)
    own = [re.escape(service) + r"\..*", re.escape(f"dlq.{service}"),
           *(re.escape(q) for q in EXTRA_QUEUES.get(service, []))]
    workers = WORKERS.get(service, ())
    for worker in workers:
        own += [re.escape(worker) + r"\..*", re.escape(f"dlq.{worker}")]
    shared = [re.escape(DEAD_LETTER_EXCHANGE)]
    if service == "reporting":
        shared.append(re.escape(SUMMARY_EXCHANGE))
    topics = [TopicPermission(exchange, write="^$", read=_kinds(kinds)) for exchange, kinds in sorted(consumed.items())]
    topics.append(TopicPermission(f"{service}.events", write=".*", read=".*"))
    if answers_rpc or calls:
        shared.append(re.escape(RPC_EXCHANGE))
        # Requests go to "<service>.<method>", replies to the caller's reply queue's uuid.
        request_keys = [re.escape(callee) + r"\." for callee in calls]
        write_keys = request_keys + ([r"[0-9a-f-]{36}$"] if answers_rpc else [])
        read_keys = ([re.escape(service) + r"\.\*$"] if answers_rpc else []) + (
            [r"[0-9a-f-]{36}$"] if calls else [])
        topics.append(TopicPermission(RPC_EXCHANGE, write="^(" + "|".join(write_keys) + ")",
                                      read="^(" + "|".join(read_keys) + ")"))
    if answers_rpc:
        own.append(re.escape(f"rpc-{service}"))
    if calls:
        own.append(re.escape(f"rpc.reply-{service}-") + ".*")
    sources = [re.escape(source) for source in sorted(consumed)] + (
        [re.escape(f"{service}.events")] if workers else [])  # a worker binds to its service's own events
    return BrokerUser(
        name=service,
        configure=_any_of(own + shared),
        write=_any_of(own + shared),
        read=_any_of(own + shared + sources),
        topics=tuple(topics),
    )


def partner_user() -> BrokerUser:
    server_named = r"amq\.gen-.*"
    return BrokerUser(
        name=PARTNER,
        configure=_any_of([server_named]),
        write=_any_of([server_named]),
        read=_any_of([server_named, re.escape(SUMMARY_EXCHANGE)]),
        topics=(TopicPermission(SUMMARY_EXCHANGE, write="^$", read=r"^summary\."),),
    )


def exchanges() -> list[tuple[str, str]]:
    """Every exchange a service reads or shares, declared by the administrator: (name, type)."""
    return ([(f"{service}.events", "topic") for service in SERVICES]
            + [(SUMMARY_EXCHANGE, "topic"), (DEAD_LETTER_EXCHANGE, "direct"), (RPC_EXCHANGE, "topic")])


# --- ways to apply them -------------------------------------------------------------------

class Rabbitmqctl:
    """On the broker's host (or with its Erlang cookie): ``rabbitmqctl -n NODE``."""

    def __init__(self, node: str | None):
        self.node = ["-n", node] if node else []

    def _run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["rabbitmqctl", *self.node, *args], input=stdin, capture_output=True,
                                  text=True, timeout=120)
        except FileNotFoundError:
            raise click.ClickException("rabbitmqctl is not installed here: use --management-url or --print")

    def _check(self, done: subprocess.CompletedProcess, what: str) -> None:
        if done.returncode != 0:
            reason = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise click.ClickException(f"{what}: {reason[-1] if reason else 'rabbitmqctl failed'}")

    def vhost(self, vhost: str) -> None:
        self._check(self._run("add_vhost", vhost), f"vhost {vhost}")

    def user(self, name: str, password: str) -> None:
        listed = self._run("list_users", "--quiet", "--no-table-headers")
        self._check(listed, "listing users")
        exists = name in {line.split("\t")[0].strip() for line in listed.stdout.splitlines()}
        # The password goes through stdin, never the command line (ps shows that).
        self._check(self._run("change_password" if exists else "add_user", name, stdin=password + "\n"),
                    f"user {name}")
        self._check(self._run("set_user_tags", name), f"user {name}")  # no management access

    def permissions(self, vhost: str, user: BrokerUser) -> None:
        self._check(self._run("set_permissions", "-p", vhost, user.name, user.configure, user.write, user.read),
                    f"permissions of {user.name}")
        self._check(self._run("clear_topic_permissions", "-p", vhost, user.name), f"topics of {user.name}")
        for topic in user.topics:
            self._check(self._run("set_topic_permissions", "-p", vhost, user.name, topic.exchange,
                                  topic.write, topic.read), f"topics of {user.name}")


class Management:
    """Through the RabbitMQ management plugin's HTTP API (enabled in the compose and k8s brokers)."""

    def __init__(self, url: str, username: str, password: str):
        import requests

        self.url = url.rstrip("/") + "/api"
        self.session = requests.Session()
        self.session.auth = (username, password)

    def _put(self, path: str, body: dict, what: str) -> None:
        import requests

        try:
            answer = self.session.put(self.url + path, json=body, timeout=30)
        except requests.RequestException as exc:
            raise click.ClickException(f"the management API at {self.url} does not answer ({type(exc).__name__})")
        if answer.status_code >= 300:
            raise click.ClickException(f"{what}: the management API answered {answer.status_code}")

    def vhost(self, vhost: str) -> None:
        self._put(f"/vhosts/{quote(vhost, safe='')}", {}, f"vhost {vhost}")

    def user(self, name: str, password: str) -> None:
        self._put(f"/users/{quote(name, safe='')}", {"password": password, "tags": ""}, f"user {name}")

    def permissions(self, vhost: str, user: BrokerUser) -> None:
        where = f"{quote(vhost, safe='')}/{quote(user.name, safe='')}"
        self._put(f"/permissions/{where}", {"configure": user.configure, "write": user.write, "read": user.read},
                  f"permissions of {user.name}")
        for topic in user.topics:
            self._put(f"/topic-permissions/{where}",
                      {"exchange": topic.exchange, "write": topic.write, "read": topic.read},
                      f"topics of {user.name}")


class Printer:
    """The same as shell commands, for a broker this machine cannot reach: passwords stay variables."""

    def __init__(self, node: str | None):
        self.ctl = "rabbitmqctl" + (f" -n {shlex.quote(node)}" if node else "")

    def vhost(self, vhost: str) -> None:
        click.echo(f"{self.ctl} add_vhost {shlex.quote(vhost)}")

    def user(self, name: str, password_variable: str) -> None:
        feed = f'printf "%s\\n" "${password_variable}"'
        click.echo(f"{feed} | {self.ctl} add_user {name} || {feed} | {self.ctl} change_password {name}")

    def permissions(self, vhost: str, user: BrokerUser) -> None:
        v = shlex.quote(vhost)
        click.echo(f"{self.ctl} set_permissions -p {v} {user.name} "
                   + " ".join(shlex.quote(p) for p in (user.configure, user.write, user.read)))
        click.echo(f"{self.ctl} clear_topic_permissions -p {v} {user.name}")
        for topic in user.topics:
            click.echo(f"{self.ctl} set_topic_permissions -p {v} {user.name} {shlex.quote(topic.exchange)} "
                       f"{shlex.quote(topic.write)} {shlex.quote(topic.read)}")

    def exchanges(self, vhost: str) -> None:
        for name, kind in exchanges():
            click.echo(f"rabbitmqadmin --vhost={shlex.quote(vhost)} declare exchange name={name} type={kind} "
                       "durable=true")


def declare_exchanges(amqp_uri: str) -> None:
    """Declare the shared exchanges as the administrator (AMQP)."""
    from kombu import Connection, Exchange

    try:
        with Connection(amqp_uri, connect_timeout=10) as connection:
            channel = connection.channel()
            for name, kind in exchanges():
                Exchange(name, type=kind, durable=True)(channel).declare()
    except Exception as exc:  # noqa: BLE001 (one line for the operator, never a traceback)
        raise click.ClickException(f"cannot declare the exchanges through AMQP_URI: {type(exc).__name__}: "
                                   f"{_without_password(str(exc))}")


def _without_password(text: str) -> str:
    return re.sub(r"://([^:/@\s]+):[^@\s]+@", r"://\1:***@", text)


def vhost_of(amqp_uri: str) -> str:
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


@click.group()
def broker():
    """The broker's users: one per service, and a partner's."""


@broker.command()
@click.option("--amqp-uri", envvar="AMQP_URI", help="An administrator's AMQP URI (default: $AMQP_URI); "
              "its vhost is the one set up.")
@click.option("--vhost", help="The vhost (default: the AMQP URI's).")
@click.option("--node", help="Use rabbitmqctl on this node (e.g. rabbit@broker-host).")
@click.option("--management-url", envvar="BROKER_MANAGEMENT_URL",
              help="Use the management plugin's HTTP API instead (default: $BROKER_MANAGEMENT_URL).")
@click.option("--print", "print_only", is_flag=True,
              help="Print the commands for a broker elsewhere instead of running them.")
def setup(amqp_uri, vhost, node, management_url, print_only):
    """Create each service's broker user and the partner's, with their permissions.

    Passwords come from REGISTRATION_BROKER_PASSWORD, ASSESSMENT_..., NOTIFICATION_...,
    REPORTING_..., IDENTITY_... and (optional) PARTNER_BROKER_PASSWORD; they are never printed.
    Without --node or --management-url, rabbitmqctl talks to the local default node.
    """
    vhost = vhost or (vhost_of(amqp_uri) if amqp_uri else "/")
    users = [service_user(service) for service in SERVICES]
    partner = partner_user()
    if print_only:
        printer = Printer(node)
        printer.vhost(vhost)
        for user in [*users, partner]:
            printer.user(user.name, user.password_variable)
            printer.permissions(vhost, user)
        printer.exchanges(vhost)
        return
    missing = [u.password_variable for u in users if not os.environ.get(u.password_variable)]
    if missing:
        raise click.ClickException(f"set {', '.join(missing)}: each service's broker password")
    if not amqp_uri or amqp_uri.startswith("memory"):
        raise click.ClickException("set AMQP_URI (or --amqp-uri) to an administrator's URI of the broker")
    if management_url and not node:
        parts = urlsplit(amqp_uri)
        backend = Management(management_url, os.environ.get("BROKER_ADMIN_USERNAME") or unquote(parts.username or ""),
                             os.environ.get("BROKER_ADMIN_PASSWORD") or unquote(parts.password or ""))
    else:
        backend = Rabbitmqctl(node)
    backend.vhost(vhost)
    declare_exchanges(amqp_uri)
    for user in users:
        backend.user(user.name, os.environ[user.password_variable])
        backend.permissions(vhost, user)
    if os.environ.get(partner.password_variable):
        backend.user(partner.name, os.environ[partner.password_variable])
        backend.permissions(vhost, partner)
        created = [*users, partner]
    else:
        created = users
        click.echo("no partner user: PARTNER_BROKER_PASSWORD is not set", err=True)
    click.echo(f"broker users on vhost {vhost}: {', '.join(u.name for u in created)}")
    sys.stdout.flush()
