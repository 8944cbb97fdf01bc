#!/usr/bin/env python3
"""A partner's consumer of the campaign's summary events, written with pika alone.

    python examples/summary_consumer.py --amqp amqp://guest:guest@localhost:5672/ \
        --api http://localhost:8000 'summary.*.pontianak' summary.tests.national

It binds a private queue to the topic exchange ``campaign.summaries`` for each
routing-key pattern given, then (with ``--api``) prints the current summaries
of the cities the patterns name, so it has figures before the next change, and
then every summary as it arrives, one JSON line each.  Bodies follow the JSON
Schemas in ``schemas/`` (see ``docs/asyncapi.yaml``).  A snapshot is the city's
last summary itself, so a snapshot and the message it reproduces carry the same
``event_id``: keep the first.  A count may be "<5" (1 to 4 people) or "x"
(hidden so that a "<5" cannot be worked out); a city with no summary yet is
skipped (404).
"""
import argparse
import json
import sys
import urllib.error
import urllib.request

import pika

EXCHANGE = "campaign.summaries"


def snapshot(api, patterns):
    """Current summaries of the cities the patterns name (all cities for a wildcard)."""
    base = api.rstrip("/") + "/api/v1"
    cities = {p.split(".")[-1] for p in patterns}
    if cities & {"*", "#"}:
        with urllib.request.urlopen(f"{base}/summaries", timeout=30) as answer:
            cities = set(json.load(answer)["cities"])
    found = {}
    for city in sorted(cities):
        try:
            with urllib.request.urlopen(f"{base}/summaries/{city}", timeout=30) as answer:
                found.update(json.load(answer))
        except urllib.error.HTTPError as error:
            if error.code != 404:  # 404: no summary of that city yet; its first comes by the queue
                raise
    return found


def matches(pattern, key):
    """AMQP topic matching: * is exactly one word, # is zero or more."""
    def match(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])
    return match(pattern.split("."), key.split("."))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="+", help="routing-key patterns, e.g. 'summary.*.medan'")
    parser.add_argument("--amqp", default="amqp://guest:guest@localhost:5672/%2F")
    parser.add_argument("--api", help="base URL of the reporting API, for the current summaries first")
    parser.add_argument("--count", type=int, help="stop after this many summaries")
    parser.add_argument("--timeout", type=float, help="stop after this many seconds without one")
    args = parser.parse_args(argv)

    connection = pika.BlockingConnection(pika.URLParameters(args.amqp))
    channel = connection.channel()
    try:  # a partner's broker user may bind to it, not declare it
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True, passive=True)
    except pika.exceptions.ChannelClosedByBroker:  # not there yet: no summary was ever published
        channel = connection.channel()
        channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    for pattern in args.patterns:
        channel.queue_bind(queue, EXCHANGE, routing_key=pattern)

    seen, printed = set(), 0

    def show(key, body):
        nonlocal printed
        if body["event_id"] in seen:
            return
        seen.add(body["event_id"])
        print(json.dumps({"routing_key": key, "body": body}, ensure_ascii=False), flush=True)
        printed += 1

    # Bound first, snapshot second: nothing published in between is missed.
    if args.api:
        for key, body in snapshot(args.api, args.patterns).items():
            if any(matches(p, key) for p in args.patterns) and (args.count is None or printed < args.count):
                show(key, body)
    messages = channel.consume(queue, auto_ack=True, inactivity_timeout=args.timeout)
    try:
        while args.count is None or printed < args.count:
            method, _, raw = next(messages)
            if method is None:  # nothing for --timeout seconds
                break
            show(method.routing_key, json.loads(raw))
    except KeyboardInterrupt:
        pass
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
