"""Pipeline throughput and city isolation against the local RabbitMQ, in one run.

    python bench/pipeline_bench.py [--participants 20000] [--runs 5] [--profile DIR]

Prints, all measured in this run (the machine is noisy, so the ratios matter):
  1. the raw baseline: raw pika, persistent messages published in transactions
     of 500 while a consumer acknowledges them (prefetch 200), in messages/s;
     and the routed limit: the same routed as a registration is, to two quorum
     queues, the most the broker alone could give the pipeline;
  2. pipeline throughput: participants imported across four cities until the
     read models of reporting and notification (the services that consume
     registrations) have all of them, in participants/s, with its ratio to
     the baseline and to the routed limit;
  3. the CPU each process spent meanwhile, in ms per participant, and summed;
  4. city isolation, ``--runs`` times: Pontianak's registration-to-report
     latency (p50, p95) sampled for as long as Surabaya imports as many
     participants and its events flow, against Surabaya idle, and the ratio
     of the two p95s in each run;
  5. the peak memory (VmHWM) of each process.
The services run as in production: each its own process, PostgreSQL, the
import worker a process of its own, reporting split into a Pontianak worker
and a worker for the other cities.  ``--profile DIR`` samples every process
with py-spy during the throughput run and prints each one's costliest functions.
"""
import argparse
import collections
import csv
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pika
import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from campaign.demo import load_rollout  # noqa: E402
from tests.support.cluster import Cluster, Databases, SmtpServer, Vhost, wait_until  # noqa: E402

CITIES = ("Pontianak", "Medan", "Surabaya", "Palembang")


def baseline(amqp_uri, n, queues=1, queue_type="classic"):
    """Raw pika: publish n persistent messages in transactions of 500 while consuming with acks.

    With ``queues=2, queue_type="quorum"`` each message goes, through a topic
    exchange, to two quorum queues with a consumer each: what the broker does
    for every registration in the pipeline (notification's queue and reporting's).
    """
    body = b'{"schema_version": 1, "event_id": "00000000-0000-0000-0000-000000000000", "city": "pontianak"}'
    names = [f"bench-{queue_type}-{i}" for i in range(queues)]
    setup = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = setup.channel()
    channel.exchange_declare("bench-baseline", "topic", durable=True)
    for name in names:
        channel.queue_declare(name, durable=True, arguments={"x-queue-type": queue_type})
        channel.queue_bind(name, "bench-baseline", "#")
    setup.close()

    def consume(name):
        connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=200)
        seen = 0
        for method, _, _ in channel.consume(name):
            seen += 1
            if seen % 100 == 0 or seen == n:
                channel.basic_ack(method.delivery_tag, multiple=True)
            if seen == n:
                break
        channel.cancel()
        connection.close()

    consumers = [threading.Thread(target=consume, args=(name,)) for name in names]
    for consumer in consumers:
        consumer.start()
    started = time.perf_counter()
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.tx_select()
    persistent = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    for i in range(n):
        channel.basic_publish("bench-baseline", "participant_registered.pontianak", body, persistent)
        if i % 500 == 499:
            channel.tx_commit()
    channel.tx_commit()
    connection.close()
    for consumer in consumers:
        consumer.join()
    return n / (time.perf_counter() - started)


def people_csv(city, n, offset=0):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "category", "organisation"])
    writer.writerows((f"Peserta {city} {offset + i}", "educator", f"Sekolah {i % 40}") for i in range(n))
    return buffer.getvalue().encode()


def launch(cluster, city_name):
    rollout = load_rollout()
    rollout.update(city_name=city_name, venue=city_name, committee_email=f"{city_name.lower()}@committee.example")
    planned = cluster.post("registration", "/rollouts", json=rollout).json()
    return cluster.post("registration", f"/rollouts/{planned['id']}/launch").json()


def import_in_chunks(cluster, rollout, n, chunk=5000, offset=0):
    """Files of ``chunk`` rows, each followed until its import job has finished."""
    for start in range(0, n, chunk):
        job = cluster.import_participants(rollout["id"], people_csv(rollout["city"], min(chunk, n - start),
                                                                    offset + start), timeout=900)
        assert job["status"] == "succeeded", job


class ReadModels:
    """The read models of the services that consume registrations, read in their databases.

    Reading them directly measures the pipeline, not the figures endpoint: a
    poll every few milliseconds through reporting's API would load the very
    worker being measured.
    """

    def __init__(self, urls):
        self.reporting = create_engine(urls["reporting"], pool_size=2)
        self.notification = create_engine(urls["notification"], pool_size=2)

    def _scalar(self, engine, sql, **params):
        with engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def reported(self, rollout=None):
        """Participants counted in reporting's figures (of one rollout, or all)."""
        return self._scalar(self.reporting, "SELECT count(*) FROM participants WHERE counted"
                            + (" AND rollout_id = :rollout" if rollout else ""), rollout=rollout and rollout["id"])

    def has(self, participant_id):
        return self._scalar(self.reporting, "SELECT count(*) FROM participants WHERE participant_id = :id",
                            id=participant_id)

    def heard(self):
        """Registrations in notification's read model (its participant changes)."""
        return self._scalar(self.notification, "SELECT count(*) FROM participant_changes "
                                               "WHERE change IN ('registered', 'waitlisted')")

    def dispose(self):
        self.reporting.dispose()
        self.notification.dispose()


def pontianak_latency(cluster, read_models, rollout):
    """From the registration request to the participant counted in reporting's read model."""
    started = time.perf_counter()
    answer = cluster.post("registration", f"/rollouts/{rollout['id']}/participants",
                          json={"full_name": f"Sampel {time.time_ns()}", "category": "lsm"})
    assert answer.status_code == 201, answer.text
    wait_until(lambda: read_models.has(answer.json()["id"]), "a Pontianak registration", timeout=120,
               interval=0.002)
    return time.perf_counter() - started


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid):
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Profiles:
    """py-spy sampling each process (``--profile DIR``): its costliest functions, by own time."""

    def __init__(self, directory, processes):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.running = {key: subprocess.Popen(
            [spy, "record", "--pid", str(p.process.pid), "--format", "raw", "--rate", "200", "--nonblocking",
             "--output", str(self.directory / f"{key}.txt")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for key, p in processes.items()}

    def stop(self):
        for spy in self.running.values():
            spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        for spy in self.running.values():
            spy.wait(60)

    def top(self, key, n=12):
        """(function, share of the samples spent in it, not in what it calls)."""
        own, total = collections.Counter(), 0
        path = self.directory / f"{key}.txt"
        if not path.exists():
            return []
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frame = stack.split(";")[-1]
            if "(" in frame:  # "function (file.py:line)": the line dropped, functions summed
                name, _, where = frame.partition(" (")
                frame = f"{name} ({where.rsplit(':', 1)[0].split('site-packages/')[-1]})"
            own[frame] += int(count)
            total += int(count)
        return [(frame, count / total) for frame, count in own.most_common(n)] if total else []


def isolation_run(cluster, read_models, pontianak, surabaya, n, samples, offset):
    """Pontianak's latency with Surabaya idle, then for as long as Surabaya imports ``n`` and they flow."""
    idle = [pontianak_latency(cluster, read_models, pontianak) for _ in range(samples)]
    before = read_models.reported(surabaya)
    busy_import = threading.Thread(target=import_in_chunks, args=(cluster, surabaya, n), kwargs={"offset": offset})
    busy_import.start()
    busy = []  # sampled for as long as Surabaya is busy: importing, or its events not all reported
    while busy_import.is_alive() or read_models.reported(surabaya) < before + n:
        busy.append(pontianak_latency(cluster, read_models, pontianak))
    busy_import.join()
    return idle, busy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=40, help="Pontianak latency samples with Surabaya idle")
    parser.add_argument("--runs", type=int, default=1, help="isolation runs, each with its own ratio")
    parser.add_argument("--profile", metavar="DIR", help="sample each process with py-spy during the throughput run")
    args = parser.parse_args()
    n = args.participants
    sys.stdout.reconfigure(line_buffering=True)

    vhost = Vhost()
    workdir = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    databases = Databases("postgresql", workdir)
    smtp = SmtpServer(workdir / "smtp")
    cluster = Cluster(workdir, vhost.amqp_uri, databases.urls, smtp.url, OUTBOX_INTERVAL=0.2)
    cluster.services["reporting"].env["CITY"] = "pontianak"
    cluster.add_worker("reporting-others", "reporting", CITY="medan,surabaya,palembang")
    read_models = None
    try:
        rate = baseline(vhost.amqp_uri, n)
        print(f"raw baseline (pika, tx of 500, consume with ack): {rate:,.0f} messages/s")
        routed = baseline(vhost.amqp_uri, n, queues=2, queue_type="quorum")
        print(f"routed limit (the broker alone, each message to two quorum queues as a registration goes): "
              f"{routed:,.0f} messages/s ({routed / rate:.2f} of the baseline)")

        cluster.start()
        read_models = ReadModels(databases.urls)
        rollouts = {city: launch(cluster, city) for city in CITIES}
        per_city = n // len(CITIES)
        profiles = Profiles(args.profile, cluster.services) if args.profile else None
        cpu_before = {key: cpu_seconds(p.process.pid) for key, p in cluster.services.items()}
        started = time.perf_counter()
        threads = [threading.Thread(target=import_in_chunks, args=(cluster, rollouts[c], per_city))
                   for c in CITIES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        imported = time.perf_counter() - started
        total = per_city * len(CITIES)
        wait_until(lambda: read_models.reported() >= total and read_models.heard() >= total,
                   "the pipeline to drain", timeout=900, interval=0.05)
        elapsed = time.perf_counter() - started
        cpu = {key: cpu_seconds(p.process.pid) - cpu_before[key] for key, p in cluster.services.items()}
        if profiles:
            profiles.stop()
        assert cluster.get("reporting", "/reports/national/figures").json()["participants"] == total
        throughput = total / elapsed
        print(f"pipeline: {total:,} participants imported across {len(CITIES)} cities and in every read model "
              f"in {elapsed:.1f}s (import jobs done in {imported:.1f}s): {throughput:,.0f} participants/s, "
              f"{throughput / rate:.2f} of the raw baseline, {throughput / routed:.2f} of the routed limit")
        print("CPU ms per participant: " + ", ".join(f"{key} {1000 * seconds / total:.3f}"
                                                    for key, seconds in cpu.items())
              + f"; summed {1000 * sum(cpu.values()) / total:.3f} (CPU seconds {sum(cpu.values()):.1f})")
        if profiles:
            for key in cluster.services:
                print(f"  costliest in {key} (share of its samples, own time):")
                for frame, share in profiles.top(key):
                    print(f"    {share:6.1%}  {frame}")

        pontianak, surabaya = rollouts["Pontianak"], rollouts["Surabaya"]
        ratios = []
        for run in range(1, args.runs + 1):
            idle, busy = isolation_run(cluster, read_models, pontianak, surabaya, n, args.samples, offset=run * n)
            p50_idle, p95_idle = percentile(idle, 50), percentile(idle, 95)
            p50_busy, p95_busy = percentile(busy, 50), percentile(busy, 95)
            ratios.append(p95_busy / p95_idle)
            print(f"isolation run {run}: Pontianak registration-to-report p50 {p50_idle * 1000:.0f} ms, "
                  f"p95 {p95_idle * 1000:.0f} ms with Surabaya idle (mean {statistics.mean(idle) * 1000:.0f} ms); "
                  f"while Surabaya imports {n:,} ({len(busy)} samples) p50 {p50_busy * 1000:.0f} ms, "
                  f"p95 {p95_busy * 1000:.0f} ms; p95 ratio busy/idle {ratios[-1]:.2f}")
        print("isolation p95 ratios: " + ", ".join(f"{r:.2f}" for r in ratios)
              + f" ({sum(r <= 2 for r in ratios)} of {len(ratios)} within twice)")
        for key, process in cluster.services.items():
            print(f"peak memory of {key}: {peak_memory_mb(process.process.pid):.0f} MB")
    finally:
        if read_models is not None:
            read_models.dispose()
        cluster.stop()
        smtp.stop()
        databases.drop()
        vhost.delete()


if __name__ == "__main__":
    try:
        main()
    except requests.RequestException as exc:
        sys.exit(f"error: {exc}")
