"""The event catalogue: every event's name, routing key and schema, defined once.

Producers build payloads with ``Event.create`` and consumers read them with
``Event.load``; both import the same object from here.  Every payload carries
``schema_version``, ``event_id`` (consumers deduplicate on it), ``occurred_at``
and the ``city`` slug, which is also the last word of the routing key, so a
city's traffic can be given its own queues and workers.

Events carry ids and pseudonymous codes, never a participant's name.
"""
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

SUMMARY_EXCHANGE = "campaign.summaries"
NATIONAL = "national"

CITY_SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="must be a lower-case slug")


class EventSchema(Schema):
    class Meta:
        # A consumer reads the fields it knows; newer producers may add more.
        unknown = EXCLUDE

    schema_version = fields.Integer(required=True)
    event_id = fields.UUID(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    city = fields.String(required=True, validate=CITY_SLUG)


@dataclass(frozen=True)
class Event:
    """An event of ``source``, and where it is published.

    A domain event goes to ``<source>.events`` as ``<name>.<city>``; a public
    summary to ``campaign.summaries`` as ``summary.<name>.<city>``.
    """

    name: str
    source: str
    schema: type[Schema]
    version: int = 1
    public: bool = False

    @property
    def exchange(self) -> str:
        return SUMMARY_EXCHANGE if self.public else f"{self.source}.events"

    def routing_key(self, city: str) -> str:
        return f"summary.{self.name}.{city}" if self.public else f"{self.name}.{city}"

    def create(self, city: str, **fields_: Any) -> dict[str, Any]:
        """A JSON-ready payload; raises ValidationError if it breaks the schema."""
        body = {
            "schema_version": self.version,
            "event_id": uuid.uuid4(),
            "occurred_at": datetime.now(timezone.utc),
            "city": city,
            **fields_,
        }
        payload: dict[str, Any] = self._schema.dump(body)
        self._schema.load(payload)  # a producer must never publish what consumers reject
        return payload

    def load(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        loaded: dict[str, Any] = self._schema.load(payload)
        return loaded

    @cached_property
    def _schema(self) -> Schema:
        # Building a schema copies every field: one instance per event serves every load.
        return self.schema()


# --- registration -----------------------------------------------------------

LANGUAGES = ("id", "en")  # the languages a report is written in; Bahasa Indonesia first


class Localised(fields.Field[Any]):
    """Free text as written for every language (a string), or per language (``{"id": ..., "en": ...}``).

    A coordinator writes the report's narrative once per language; a text given
    as a plain string is printed as it is in every language.
    """

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        if (isinstance(value, dict) and value and set(value) <= set(LANGUAGES)
                and all(isinstance(text, str) for text in value.values())):
            return dict(value)
        raise self.make_error("invalid")

    default_error_messages = {"invalid": "Must be text, or text per language (id, en)."}


def _texts(**kwargs: Any) -> fields.List[Any]:
    """An optional list of paragraphs or points, each ``Localised``."""
    return fields.List(Localised(), load_default=None, allow_none=True, **kwargs)


class ReportingInstitutionSchema(Schema):
    """Where abuse can be reported: who, how (a hotline, an app, a web form) and at what address."""

    name = fields.String(required=True)
    channel = Localised(required=True)
    contact = fields.String(required=True)


class QuestionAnswerSchema(Schema):
    question = Localised(required=True)
    answer = Localised(required=True)


class NarrativeSchema(Schema):
    """The report's narrative of a rollout: every field optional, printed in the original's order.

    Carried by ``rollout_launched`` and, when edited, by ``rollout_updated``
    (which names the edited fields in ``changed``).
    """

    background = _texts()
    aims = _texts()
    expected_learning = _texts()
    tips = _texts()
    reporting_institutions = fields.List(fields.Nested(ReportingInstitutionSchema), load_default=None,
                                         allow_none=True)
    findings = _texts()
    qa = fields.List(fields.Nested(QuestionAnswerSchema), load_default=None, allow_none=True)
    recommendations = _texts()
    follow_up = _texts()
    organisation = fields.String(load_default=None, allow_none=True)  # who ran it, for the cover
    issued_on = fields.Date(load_default=None, allow_none=True)  # the report's date (default: the last day)


NARRATIVE_FIELDS = tuple(NarrativeSchema().fields)


class FacilitatorSchema(Schema):
    name = fields.String(required=True)
    organisation = fields.String(required=True)


class TopicSchema(Schema):
    title = fields.String(required=True)
    facilitators = fields.List(fields.Nested(FacilitatorSchema), required=True)


class SessionSchema(Schema):
    key = fields.String(required=True)
    day = fields.Integer(required=True)
    date = fields.Date(required=True)
    title = fields.String(required=True)
    audience = fields.String(required=True)
    opened_by = Localised(load_default=None, allow_none=True)
    topics = fields.List(fields.Nested(TopicSchema), required=True)
    summary = _texts()  # what happened that day, paragraph by paragraph


class RolloutLaunchedSchema(EventSchema, NarrativeSchema):
    rollout_id = fields.Integer(required=True)
    program = fields.String(required=True)
    city_name = fields.String(required=True)
    province = fields.String(load_default=None, allow_none=True)
    venue = fields.String(load_default=None, allow_none=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    author = fields.String(load_default=None, allow_none=True)
    editor = fields.String(load_default=None, allow_none=True)
    sessions = fields.List(fields.Nested(SessionSchema), required=True)


class ParticipantRegisteredSchema(EventSchema):
    rollout_id = fields.Integer(required=True)
    participant_id = fields.Integer(required=True)
    participant_code = fields.String(required=True)
    session_key = fields.String(required=True)
    category = fields.String(required=True)
    minor = fields.Boolean(required=True)
    sex = fields.String(load_default=None, allow_none=True)
    age_band = fields.String(load_default=None, allow_none=True)
    # "waitlisted" when the session was full; a later participant_promoted gives the place.
    status = fields.String(load_default="registered", validate=validate.OneOf(["registered", "waitlisted"]))


class RegistrationClosedSchema(EventSchema):
    rollout_id = fields.Integer(required=True)
    participant_count = fields.Integer(required=True)


class RolloutUpdatedSchema(EventSchema, NarrativeSchema):
    """An edit or a lifecycle step (launched -> running -> completed) of a rollout.

    An edit of the narrative, or of what the report's cover and overview print (``COVER_FIELDS``),
    carries the edited fields (named in ``changed``); an edit of a session's summary or opener
    carries every session.
    """

    rollout_id = fields.Integer(required=True)
    status = fields.String(required=True)
    changed = fields.List(fields.String(), required=True)  # names of the fields that changed
    sessions = fields.List(fields.Nested(SessionSchema), load_default=None, allow_none=True)
    province = fields.String(load_default=None, allow_none=True)
    venue = fields.String(load_default=None, allow_none=True)
    starts_on = fields.Date(load_default=None, allow_none=True)
    ends_on = fields.Date(load_default=None, allow_none=True)
    author = fields.String(load_default=None, allow_none=True)
    editor = fields.String(load_default=None, allow_none=True)


# The launch's fields that the report prints on its cover and overview; an edit carries them again.
COVER_FIELDS = ("province", "venue", "starts_on", "ends_on", "author", "editor")


class RolloutCancelledSchema(EventSchema):
    rollout_id = fields.Integer(required=True)
    reason = fields.String(load_default=None, allow_none=True)


class ParticipantChangeSchema(EventSchema):
    rollout_id = fields.Integer(required=True)
    participant_id = fields.Integer(required=True)
    participant_code = fields.String(required=True)
    session_key = fields.String(required=True)


class ParticipantUpdatedSchema(ParticipantChangeSchema):
    category = fields.String(required=True)
    changed = fields.List(fields.String(), required=True)


class ParticipantCheckedInSchema(ParticipantChangeSchema):
    day = fields.Integer(required=True)


class TargetGapSchema(EventSchema):
    """A participant category is short of the committee's minimum as its session nears."""

    rollout_id = fields.Integer(required=True)
    session_key = fields.String(required=True)
    category = fields.String(required=True)
    minimum = fields.Integer(required=True)
    registered = fields.Integer(required=True)
    session_date = fields.Date(required=True)


ROLLOUT_LAUNCHED = Event("rollout_launched", "registration", RolloutLaunchedSchema)
ROLLOUT_UPDATED = Event("rollout_updated", "registration", RolloutUpdatedSchema)
ROLLOUT_CANCELLED = Event("rollout_cancelled", "registration", RolloutCancelledSchema)
PARTICIPANT_REGISTERED = Event("participant_registered", "registration", ParticipantRegisteredSchema)
PARTICIPANT_UPDATED = Event("participant_updated", "registration", ParticipantUpdatedSchema)
PARTICIPANT_CANCELLED = Event("participant_cancelled", "registration", ParticipantChangeSchema)
# A waitlisted participant got a place because someone cancelled.
PARTICIPANT_PROMOTED = Event("participant_promoted", "registration", ParticipantChangeSchema)
PARTICIPANT_CHECKED_IN = Event("participant_checked_in", "registration", ParticipantCheckedInSchema)
REGISTRATION_CLOSED = Event("registration_closed", "registration", RegistrationClosedSchema)
TARGET_GAP = Event("target_gap", "registration", TargetGapSchema)


class PersonalDataPurgedSchema(EventSchema):
    """A completed rollout's personal data was purged at the end of its retention."""

    rollout_id = fields.Integer(required=True)
    participants = fields.Integer(required=True)


PERSONAL_DATA_PURGED = Event("personal_data_purged", "registration", PersonalDataPurgedSchema)


# --- assessment -------------------------------------------------------------

class TopicScoreSchema(Schema):
    topic = fields.String(required=True)
    score = fields.Integer(required=True)
    max_score = fields.Integer(required=True)


class TestScoredSchema(EventSchema):
    rollout_id = fields.Integer(required=True)
    submission_id = fields.Integer(required=True)
    instrument_id = fields.Integer(required=True)
    session_key = fields.String(required=True)
    participant_code = fields.String(required=True)
    phase = fields.String(required=True, validate=validate.OneOf(["pre", "post"]))
    score = fields.Integer(required=True)
    max_score = fields.Integer(required=True)
    passed = fields.Boolean(required=True)
    topics = fields.List(fields.Nested(TopicScoreSchema), required=True)
    instrument_version = fields.Integer(load_default=None, allow_none=True)
    pass_percent = fields.Integer(load_default=None, allow_none=True)  # the instrument's pass mark
    unanswered = fields.Integer(load_default=0)  # questions left blank, scored as wrong


class ActionPlanSchema(EventSchema):
    """What a participant or a group committed to do."""

    rollout_id = fields.Integer(required=True)
    action_plan_id = fields.Integer(required=True)
    session_key = fields.String(required=True)
    owner = fields.String(required=True, validate=validate.OneOf(["participant", "group"]))
    due_on = fields.Date(load_default=None, allow_none=True)
    status = fields.String(required=True)  # planned | in_progress | done | dropped
    participant_code = fields.String(load_default=None, allow_none=True)  # a participant's plan only
    # What was committed to, and a group's name, for the report (never a participant's name).
    commitment = fields.String(load_default=None, allow_none=True)
    group_name = fields.String(load_default=None, allow_none=True)


class EstimateSchema(Schema):
    """A figure with the number it rests on and its 95% confidence interval (None where undefined)."""

    value = fields.Float(required=True, allow_none=True)
    n = fields.Integer(required=True)
    ci = fields.List(fields.Float(), required=True, allow_none=True)


class GainSummarySchema(EventSchema):
    """A session's learning gain as it stands, from participants with both tests.

    Fractions of the maximum score; ``perfect_pre`` (gain undefined), ``pre_only``
    and ``post_only`` count who is left out of the gain, and why.
    """

    rollout_id = fields.Integer(required=True)
    session_key = fields.String(required=True)
    paired = fields.Integer(required=True)
    perfect_pre = fields.Integer(required=True)
    pre_only = fields.Integer(required=True)
    post_only = fields.Integer(required=True)
    mean_pre = fields.Float(required=True, allow_none=True)
    mean_post = fields.Float(required=True, allow_none=True)
    gain_of_averages = fields.Nested(EstimateSchema, required=True)
    mean_of_gains = fields.Nested(EstimateSchema, required=True)


TEST_SCORED = Event("test_scored", "assessment", TestScoredSchema)
GAIN_SUMMARY = Event("gain_summary", "assessment", GainSummarySchema)
ACTION_PLAN_RECORDED = Event("action_plan_recorded", "assessment", ActionPlanSchema)
ACTION_PLAN_UPDATED = Event("action_plan_updated", "assessment", ActionPlanSchema)


# --- notification -----------------------------------------------------------

class CommitteeNotifiedSchema(EventSchema):
    rollout_id = fields.Integer(required=True)
    delivery_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    channel = fields.String(required=True)
    participant_count = fields.Integer(required=True)


COMMITTEE_NOTIFIED = Event("committee_notified", "notification", CommitteeNotifiedSchema)


class DeliveryDeadLetteredSchema(EventSchema):
    """A delivery that exhausted its retries; it waits in ``notification.dead-letters``."""

    rollout_id = fields.Integer(required=True)
    delivery_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    channel = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(load_default=None, allow_none=True)


class CoordinatorAlertSchema(EventSchema):
    """Something a national coordinator must act on; read from the ``coordinator.alerts`` queue."""

    rollout_id = fields.Integer(required=True)
    delivery_id = fields.Integer(load_default=None, allow_none=True)
    reason = fields.String(required=True, validate=validate.OneOf(["webhook_disabled", "delivery_failed"]))
    message = fields.String(required=True)


DELIVERY_DEAD_LETTERED = Event("delivery_dead_lettered", "notification", DeliveryDeadLetteredSchema)
COORDINATOR_ALERT = Event("coordinator_alert", "notification", CoordinatorAlertSchema)


# --- reporting: public summaries (aggregates only) -------------------------

# A cell under this many people is published as "<5" so no child can be singled out.
SMALL_CELL = 5
# An integer, "<5" (1 to 4 people) or "x" (hidden so that a "<5" cannot be worked out).
Count = fields.Raw


class ParticipantsSummarySchema(EventSchema):
    participants = Count(required=True)
    by_category = fields.Dict(keys=fields.String(), values=Count(), required=True)
    by_audience = fields.Dict(keys=fields.String(), values=Count(), required=True)
    rollouts = fields.Integer(required=True)


class PhaseFiguresSchema(Schema):
    n = Count(required=True)
    mean_percent = fields.Float(required=True, allow_none=True)


class TestsSummarySchema(EventSchema):
    pre = fields.Nested(PhaseFiguresSchema, required=True)
    post = fields.Nested(PhaseFiguresSchema, required=True)
    paired = Count(required=True)
    gain = fields.Float(required=True, allow_none=True)


# Version 2: the "x" marker (secondary suppression) beside "<5".
PARTICIPANTS_SUMMARY = Event("participants", "reporting", ParticipantsSummarySchema, version=2, public=True)
TESTS_SUMMARY = Event("tests", "reporting", TestsSummarySchema, version=2, public=True)

CATALOGUE = (
    ROLLOUT_LAUNCHED,
    ROLLOUT_UPDATED,
    ROLLOUT_CANCELLED,
    PARTICIPANT_REGISTERED,
    PARTICIPANT_UPDATED,
    PARTICIPANT_CANCELLED,
    PARTICIPANT_PROMOTED,
    PARTICIPANT_CHECKED_IN,
    REGISTRATION_CLOSED,
    TARGET_GAP,
    PERSONAL_DATA_PURGED,
    TEST_SCORED,
    GAIN_SUMMARY,
    ACTION_PLAN_RECORDED,
    ACTION_PLAN_UPDATED,
    COMMITTEE_NOTIFIED,
    DELIVERY_DEAD_LETTERED,
    COORDINATOR_ALERT,
    PARTICIPANTS_SUMMARY,
    TESTS_SUMMARY,
)
