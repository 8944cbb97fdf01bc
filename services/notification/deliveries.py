"""What registration tells us becomes deliveries queued for the committee.

Handlers only queue deliveries (rows); a timer sends them (see ``sending``).
Each change heard is kept until exactly one digest takes it.
"""
import secrets
from datetime import date, timedelta

from services.notification import committees, rules
from services.notification.commands import QueueDueLists
from services.notification.rules import utcnow
from shared import events


def queue(uow, rollout_id, city, kind, covers, content, channels_now) -> list:
    """One delivery per channel, unless a delivery of the same thing exists already."""
    queued = []
    for channel in channels_now:
        key = rules.delivery_key(kind, rollout_id, covers, channel)
        if uow.deliveries.has_key(key):
            continue
        now = utcnow()
        queued.append(uow.deliveries.add(
            key=key, rollout_id=rollout_id, city=city, kind=kind, channel=channel, content=content,
            ack_token=secrets.token_urlsafe(16), status="queued", attempts=0, resends=0,
            next_attempt_at=now, created_at=now))
    return queued


# --- events from registration ----------------------------------------------

def record_rollout(uow, event: dict) -> list:
    """rollout_launched: remember its sessions (for final lists), and send the committee the agenda."""
    for s in event["sessions"]:
        if not uow.sessions.has(event["rollout_id"], s["key"]):
            uow.sessions.add(rollout_id=event["rollout_id"], city=event["city"], key=s["key"], day=s["day"],
                             date=s["date"], title=s["title"], final_list_queued=False)
    agenda = events.ROLLOUT_LAUNCHED.schema(only=(
        "city_name", "province", "venue", "starts_on", "ends_on", "sessions")).dump(event)
    return queue(uow, event["rollout_id"], event["city"], rules.AGENDA, None, agenda,
                 committees.channels(uow, event["rollout_id"]))


def record_registrations(uow, heard: list[dict]) -> None:
    """participant_registered, a batch at a time: each kept until a digest takes it."""
    _record(uow, heard, "registered")


def record_participant_updates(uow, heard: list[dict]) -> None:
    _record(uow, heard, "updated")


def record_participant_cancellations(uow, heard: list[dict]) -> None:
    _record(uow, heard, "cancelled")


def record_promotions(uow, heard: list[dict]) -> None:
    _record(uow, heard, "promoted")


def _record(uow, heard, change):
    """One insert for a run of changes; their ids keep the order heard, which a digest reads them in."""
    now = utcnow()
    uow.changes.add_many([{
        "event_id": str(event["event_id"]), "rollout_id": event["rollout_id"], "city": event["city"],
        "participant_id": event["participant_id"], "participant_code": event["participant_code"],
        "change": rules.change_heard(event, change), "received_at": now,
    } for event in heard])


def queue_participant_list(uow, event: dict) -> list:
    """registration_closed: the committee is owed its list, once per channel.

    Without a committee set, the list goes by mail to registration's committee address.
    """
    return queue(uow, event["rollout_id"], event["city"], rules.PARTICIPANT_LIST, None, {},
                 committees.channels(uow, event["rollout_id"]) or ["mail"])


def queue_target_gap(uow, event: dict) -> list:
    content = {k: event[k] for k in ("session_key", "category", "minimum", "registered")}
    content["session_date"] = event["session_date"].isoformat()
    return queue(uow, event["rollout_id"], event["city"], rules.TARGET_GAP, str(event["event_id"]), content,
                 committees.channels(uow, event["rollout_id"]))


def record_rollout_cancellation(uow, event: dict) -> list:
    """rollout_cancelled: the committee is told, and no final list goes out any more."""
    for session in uow.sessions.of_rollout(event["rollout_id"]):
        session.final_list_queued = True
    return queue(uow, event["rollout_id"], event["city"], rules.ROLLOUT_CANCELLED, None,
                 {"reason": event.get("reason")}, committees.channels(uow, event["rollout_id"]))


# --- what comes due with time -----------------------------------------------

def lists_may_be_due(uow, cities: list[str] | None = None) -> bool:
    """Whether a digest or a final list may be due: a cheap read before any write."""
    return uow.changes.any_waiting(cities) or uow.sessions.any_before_final_list(date.today(), cities)


def queue_due_lists(command: QueueDueLists, uow) -> list:
    """The digests whose window closed and the final lists now due, queued."""
    return (collect_digests(uow, command.policy, command.now, command.cities)
            + queue_final_lists(uow, command.policy, command.today, command.cities))


def collect_digests(uow, policy=rules.DEFAULT_POLICY, now=None, cities=None) -> list:
    """Close every window that has run its time: its changes become one digest per channel.

    The changes are marked in the same transaction that queues the digest, so
    after a crash a change is either still waiting or in exactly one digest.
    """
    now = now or utcnow()
    digests = []
    for rollout_id, oldest in uow.changes.waiting_rollouts(cities):
        reachable = committees.channels(uow, rollout_id)
        if not policy.window_closed(oldest, now) or not reachable:
            continue  # still open, or no way to reach the committee now: the changes wait
        changes = uow.changes.take_waiting(rollout_id)
        if not changes:
            continue
        covers = str(changes[0].id)
        uow.changes.mark_taken(changes, f"{rules.DIGEST}.{rollout_id}.{covers}")
        digests += queue(uow, rollout_id, changes[0].city, rules.DIGEST, covers,
                         {"changes": rules.collapse(changes)}, reachable)
    return digests


def queue_final_lists(uow, policy=rules.DEFAULT_POLICY, today=None, cities=None) -> list:
    """The day before a session (or on its day, if late), its final list goes out once."""
    today = today or date.today()
    queued = []
    for session in uow.sessions.before_final_list(today, today + timedelta(days=policy.final_list_days_before),
                                                  cities):
        reachable = committees.channels(uow, session.rollout_id)
        if not reachable:
            continue
        session.final_list_queued = True
        queued += queue(uow, session.rollout_id, session.city, rules.FINAL_LIST, session.key,
                        {"session_key": session.key, "day": session.day}, reachable)
    return queued
