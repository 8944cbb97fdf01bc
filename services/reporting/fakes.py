"""Reporting's repositories in memory, for unit tests of the projections, figures and publication.

They hold the same fact classes the database does (unsaved) and count and sum
in Python what ``repository.py`` counts and sums in SQL;
``tests/unit/test_reporting_repository.py`` checks that the two agree.
"""
from collections import defaultdict
from contextlib import contextmanager

from services.reporting.figures import ScoreSums
from services.reporting.models import (
    ActionPlanFact,
    AttendanceFact,
    NotificationFact,
    ParticipantFact,
    PublicRelease,
    RolloutFact,
    ScoreFact,
    ScorePair,
    SessionGainFact,
    TopicScoreFact,
)
from shared import events
from shared.fakes import FakeUnitOfWork


class FakeEventLog:
    def __init__(self):
        self.entries = []

    def append(self, entries: list[dict]) -> None:
        logged = {entry["event_id"] for entry in self.entries}
        for entry in entries:
            if entry["event_id"] in logged:  # the table's unique key
                raise ValueError(f"event {entry['event_id']} is in the log already")
            logged.add(entry["event_id"])
            self.entries.append(entry)

    def hold(self) -> None:
        pass

    def pages(self, size: int = 1000):
        for start in range(0, len(self.entries), size):
            yield [(entry["event_type"], entry["payload"]) for entry in self.entries[start:start + size]]


class FakeCityChanges:
    def __init__(self):
        self.counts = {}  # city -> [changes, published]

    def count(self, cities: list[str]) -> None:
        for city in cities:
            self.counts.setdefault(city, [0, 0])[0] += 1

    def due(self, cities: list[str] | None = None) -> list[tuple]:
        return [(city, changes, published) for city, (changes, published) in sorted(self.counts.items())
                if changes > published and (cities is None or city in cities)]

    def mark_published(self, city: str, changes: int) -> None:
        self.counts[city][1] = max(self.counts[city][1], changes)

    def cities(self) -> list[str]:
        return sorted(self.counts)


class FakeReleases:
    def __init__(self):
        self.rows = []

    def lock(self) -> None:
        pass

    def all(self) -> list:
        return list(self.rows)

    def latest(self, city: str):
        return next((r for r in reversed(self.rows) if r.city == city), None)

    def add(self, city, inner, shown, figures, summaries):
        before = self.latest(city)
        release = PublicRelease(id=len(self.rows) + 1, city=city, sequence=before.sequence + 1 if before else 1,
                                inner=inner, shown=shown, figures=figures, summaries=summaries)
        self.rows.append(release)
        return release

    def cities(self) -> list[str]:
        return sorted({r.city for r in self.rows})


class FakeReadModels:
    def __init__(self):
        self.reset()

    # --- writes ---

    def reset(self) -> None:
        self.rollouts_by_id, self.participants, self.plans = {}, {}, {}
        self.attendance, self.scores, self.pairs, self.topic_scores = {}, {}, {}, {}
        self.notifications_by_id, self.gains = {}, {}

    def checkpoint(self) -> None:
        pass

    @contextmanager
    def applying(self, participant_ids: set):
        yield  # every change is in place at once

    def rollout(self, rollout_id, city):
        return self.rollouts_by_id.setdefault(rollout_id, RolloutFact(rollout_id=rollout_id, city=city,
                                                                      cancelled=False))

    def participant(self, participant_id, rollout_id, city, session_key):
        if participant_id not in self.participants:
            self.participants[participant_id] = ParticipantFact(
                participant_id=participant_id, rollout_id=rollout_id, city=city, session_key=session_key,
                waitlisted=False, promoted=False, cancelled=False, counted=False)
        return self.participants[participant_id]

    def action_plan(self, action_plan_id):
        return self.plans.setdefault(action_plan_id, ActionPlanFact(action_plan_id=action_plan_id))

    def session_gain(self, rollout_id, session_key):
        return self.gains.get((rollout_id, session_key))

    def put_attendance(self, **fields) -> None:
        self.attendance[fields["participant_id"], fields["day"]] = AttendanceFact(**fields)

    def put_score(self, **fields) -> None:
        self.scores[fields["submission_id"]] = ScoreFact(**fields)

    def put_notification(self, **fields) -> None:
        self.notifications_by_id[fields["delivery_id"]] = NotificationFact(**fields)

    def put_session_gain(self, **fields) -> None:
        self.gains[fields["rollout_id"], fields["session_key"]] = SessionGainFact(**fields)

    def put_score_side(self, participant_code, session_key, rollout_id, city, side) -> None:
        key = (participant_code, session_key)
        pair = self.pairs.setdefault(key, ScorePair(participant_code=participant_code, session_key=session_key,
                                                    rollout_id=rollout_id, city=city))
        for name, value in side.items():
            setattr(pair, name, value)

    def replace_topic_scores(self, submission_id, topics) -> None:
        for key in [key for key in self.topic_scores if key[0] == submission_id]:
            del self.topic_scores[key]
        for topic in topics:
            self.topic_scores[submission_id, topic["topic"]] = TopicScoreFact(submission_id=submission_id, **topic)

    # --- reads ---

    def _in_scope(self, fact, city, rollout_id=None):
        if rollout_id is not None:
            return fact.rollout_id == rollout_id and (city == events.NATIONAL or fact.city == city)
        cancelled = {r.rollout_id for r in self.rollouts_by_id.values() if r.cancelled}
        return fact.rollout_id not in cancelled and (city == events.NATIONAL or fact.city == city)

    def _counted(self, city, rollout_id=None):
        return [p for p in self.participants.values() if p.counted and self._in_scope(p, city, rollout_id)]

    def rollouts(self, city, rollout_id=None):
        found = [r for r in self.rollouts_by_id.values() if r.city_name is not None
                 and self._in_scope(r, city, rollout_id) and (rollout_id is not None or not r.cancelled)]
        return sorted(found, key=lambda r: (r.starts_on, r.rollout_id))

    def notifications(self, city, rollout_id=None):
        return sorted((n for n in self.notifications_by_id.values() if self._in_scope(n, city, rollout_id)),
                      key=lambda n: n.delivery_id)

    def session_gains(self, city, rollout_id=None):
        return [self.gains[key] for key in sorted(self.gains) if self._in_scope(self.gains[key], city, rollout_id)]

    def participant_counts(self, city, rollout_id=None):
        return _counts((p.session_key, p.category, p.sex, p.age_band) for p in self._counted(city, rollout_id))

    def session_counts_by_rollout(self, city):
        return _counts((p.rollout_id, p.session_key, p.category) for p in self._counted(city))

    def attendance_counts_by_rollout(self, city):
        holding = {p.participant_id for p in self.participants.values() if p.counted}
        return _counts((a.rollout_id, a.day, a.session_key) for a in self.attendance.values()
                       if a.participant_id in holding and self._in_scope(a, city))

    def category_counts_by_city(self):
        return _counts((p.city, p.category) for p in self._counted(events.NATIONAL))

    def attendance_counts(self, city, rollout_id=None):
        holding = {p.participant_id for p in self.participants.values() if p.counted}
        return sorted(_counts((a.day, a.session_key) for a in self.attendance.values()
                              if a.participant_id in holding and self._in_scope(a, city, rollout_id)))

    def action_plans(self, city, rollout_id=None):
        return sorted((p for p in self.plans.values() if p.rollout_id is not None
                       and self._in_scope(p, city, rollout_id)), key=lambda p: p.action_plan_id)

    def action_plan_counts(self, city, rollout_id=None):
        return _counts((p.owner, p.status) for p in self.plans.values()
                       if p.rollout_id is not None and self._in_scope(p, city, rollout_id))

    def test_sums(self, city, rollout_id=None, by_city=False, by_rollout=False):
        sums = defaultdict(lambda: [0] * len(ScoreSums._fields))
        for pair in self.pairs.values():
            if not self._in_scope(pair, city, rollout_id):
                continue
            row = sums[pair.city if by_city else pair.rollout_id if by_rollout else None]
            for offset, phase in ((0, "pre"), (4, "post")):
                if getattr(pair, f"{phase}_submission_id") is not None:
                    row[offset] += 1
                    row[offset + 1] += getattr(pair, f"{phase}_score")
                    row[offset + 2] += getattr(pair, f"{phase}_max_score")
                    row[offset + 3] += bool(getattr(pair, f"{phase}_passed"))
            if pair.pre_submission_id is not None and pair.post_submission_id is not None:
                row[8] += 1
                row[9] += pair.pre_score
                row[10] += pair.pre_max_score
                row[11] += pair.post_score
                row[12] += pair.post_max_score
        return {key: ScoreSums(*row) for key, row in sums.items()}

    def topic_sums(self, city, rollout_id=None):
        return _topic_sums(t for t in self.topic_scores.values() if self._in_scope(t, city, rollout_id))

    def unpaired_topic_sums(self, city, rollout_id=None):
        unpaired = set()
        for pair in self.pairs.values():
            if self._in_scope(pair, city, rollout_id) and (pair.pre_submission_id is None) != (
                    pair.post_submission_id is None):
                unpaired.add(pair.pre_submission_id or pair.post_submission_id)
        return _topic_sums(t for t in self.topic_scores.values() if t.submission_id in unpaired)


def _counts(keys):
    counted = defaultdict(int)
    for key in keys:
        counted[key] += 1
    return [(*key, n) for key, n in counted.items()]


def _topic_sums(parts):
    sums = {}
    for part in parts:
        score, maximum, position = sums.get((part.topic, part.phase), (0, 0, part.position))
        sums[part.topic, part.phase] = (score + part.score, maximum + part.max_score, min(position, part.position))
    return sums


class FakeReportingUnitOfWork(FakeUnitOfWork):
    def __init__(self):
        super().__init__()
        self.event_log = FakeEventLog()
        self.read_models = FakeReadModels()
        self.city_changes = FakeCityChanges()
        self.releases = FakeReleases()
