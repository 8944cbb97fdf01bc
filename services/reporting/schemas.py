"""What the reporting API takes in its query strings (validated by ``@api`` before a worker runs) and answers."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.reporting.report import FORMATS, LANGUAGES
from shared import events
from shared.validation import id_field


class Strict(Schema):
    class Meta:
        unknown = RAISE  # a misspelt parameter is named, not ignored


class CommaSeparated(fields.String):
    """``md,pdf`` as ("md", "pdf"), each one of ``choices``; documented as a string."""

    def __init__(self, choices, **kwargs):
        self.choices = tuple(choices)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        chosen = tuple(part.strip() for part in super()._deserialize(value, attr, data, **kwargs).split(",")
                       if part.strip())
        if not chosen or any(part not in self.choices for part in chosen):
            raise ValidationError(f"Must be a comma-separated list of {', '.join(self.choices)}.")
        return chosen


def rollout_id_field(description):
    return id_field(load_default=None, metadata={"description": description})


class FiguresQuery(Strict):
    rollout_id = rollout_id_field("One of the city's rollouts (any city's for national); "
                                  "default: every live one.")


class ReportQuery(Strict):
    lang = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES),
                         metadata={"description": "Bahasa Indonesia (id) or English (en)."})
    rollout_id = rollout_id_field("One of the city's rollouts (any city's for national); "
                                  "default: the city's latest, or the national roll-up.")


def public_field():
    return fields.Boolean(load_default=False, metadata={"description": (
        'For partners: the figures last released to the public, a cell of 1 to 4 people as "<5" and a cell '
        'hidden so that such a cell cannot be worked out as "x"; without it, the exact (internal) figures.')})


class ActivityReportQuery(ReportQuery):
    format = CommaSeparated(FORMATS, load_default=("md",), metadata={"description": "e.g. md,html,pdf"})
    public = public_field()


class ExportQuery(ReportQuery):
    public = public_field()


class DocumentQuery(ReportQuery):
    format = fields.String(load_default="pdf", validate=validate.OneOf(FORMATS),
                           metadata={"description": "The document to download: md, html or pdf."})
    public = public_field()


# --- what the reporting API answers ------------------------------------------------------------
# The document's account of the answers, and the contract tests' yardstick: the answers are built in
# figures.py, report.py and publication.py, not dumped through these.  A required field is always
# there (a figure that cannot be worked out, a percentage of nobody, is null); the others are said
# when they are.

def Counts(**kwargs):  # noqa: N802  (a field, named like one)
    """People per category, sex, age band, owner or status: only the non-zero ones."""
    return fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, **kwargs)


def Percent(**kwargs):  # noqa: N802
    return fields.Float(required=True, allow_none=True, **kwargs)


class RolloutInScopeOut(Schema):
    rollout_id = fields.Integer(required=True)
    city = fields.String(required=True)
    city_name = fields.String(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)


class AudienceOut(Schema):
    activists = fields.Integer(required=True)
    students = fields.Integer(required=True)


class AttendanceOut(Schema):
    day = fields.Integer(required=True, metadata={"description": "The day of the rollout, from 1."})
    session_key = fields.String(required=True)
    checked_in = fields.Integer(required=True)


class PhaseOut(Schema):
    n = fields.Integer(required=True)
    mean_percent = Percent()
    passed = fields.Integer(required=True)


class TopicOut(Schema):
    topic = fields.String(required=True)
    pre_percent = Percent()
    post_percent = Percent()
    gain = Percent(metadata={"description": "Normalised gain over the people who took both tests."})


class TestsOut(Schema):
    pre = fields.Nested(PhaseOut, required=True)
    post = fields.Nested(PhaseOut, required=True)
    paired = fields.Integer(required=True, metadata={"description": "People who took both tests."})
    paired_pre_percent = Percent()
    paired_post_percent = Percent()
    gain = Percent(metadata={"description": "Normalised gain over the people who took both tests."})
    by_topic = fields.List(fields.Nested(TopicOut), required=True)


class ActionPlansOut(Schema):
    total = fields.Integer(required=True)
    by_owner = Counts()
    by_status = Counts()


class NotificationOut(Schema):
    delivery_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    channel = fields.String(required=True)
    participant_count = fields.Integer(required=True)


class TestsBriefOut(Schema):
    """The tests in one row: of a rollout on the dashboard, of a city in the national table."""

    pre_n = fields.Integer(required=True)
    pre_percent = Percent()
    post_n = fields.Integer(required=True)
    post_percent = Percent()
    paired = fields.Integer(required=True)
    gain = Percent()


class CityRowOut(TestsBriefOut):
    """One city of the national comparison table."""

    city = fields.String(required=True)
    city_name = fields.String(required=True)
    rollouts = fields.Integer(required=True)
    participants = fields.Integer(required=True)
    activists = fields.Integer(required=True)
    students = fields.Integer(required=True)


class SessionGainSummaryOut(events.GainSummarySchema):
    """Assessment's gain summary of a session as reporting keeps it: the event's figures, without
    its envelope."""

    class Meta:
        exclude = ("schema_version", "event_id", "occurred_at", "city")
        unknown = RAISE


class FiguresOut(Schema):
    """The exact figures of a city, one of its rollouts, or the nation."""

    city = fields.String(required=True)
    rollouts = fields.List(fields.Nested(RolloutInScopeOut), required=True)
    participants = fields.Integer(required=True)
    by_category = Counts()
    by_audience = fields.Nested(AudienceOut, required=True)
    by_sex = Counts()
    by_age_band = Counts()
    by_session = fields.Dict(keys=fields.String(), values=Counts(), required=True,
                             metadata={"description": "Per session key, people per category."})
    by_session_sex = fields.Dict(keys=fields.String(), values=Counts(), required=True)
    by_session_age_band = fields.Dict(keys=fields.String(), values=Counts(), required=True)
    attendance = fields.List(fields.Nested(AttendanceOut), required=True)
    tests = fields.Nested(TestsOut, required=True)
    gain_by_session = fields.List(fields.Nested(SessionGainSummaryOut), required=True)
    action_plans = fields.Nested(ActionPlansOut, required=True)
    notifications = fields.List(fields.Nested(NotificationOut), required=True)
    cities = fields.List(fields.Nested(CityRowOut), metadata={
        "description": "national without rollout_id alone: the cities side by side."})


class RolloutRowOut(RolloutInScopeOut):
    by_session = fields.Dict(keys=fields.String(), values=Counts(), required=True,
                             metadata={"description": "Per session key, places held per category."})
    attendance = fields.List(fields.Nested(AttendanceOut), required=True)
    tests = fields.Nested(TestsBriefOut, required=True)
    notifications = fields.List(fields.Nested(NotificationOut), required=True)


class RolloutFiguresOut(Schema):
    city = fields.String(required=True)
    rollouts = fields.List(fields.Nested(RolloutRowOut), required=True)


class ActivityReportOut(Schema):
    files = fields.Dict(keys=fields.String(validate=validate.OneOf(FORMATS)), values=fields.String(), required=True,
                        metadata={"description": "Per format, the file's name in the reports directory."})
    markdown = fields.String(required=True)
    file = fields.String(metadata={"description": "The Markdown file's name, when md was asked for."})


class SummaryCitiesOut(Schema):
    cities = fields.List(fields.String(), required=True)


class SummariesOut(Schema):
    """{routing key: the summary sent}, e.g. ``summary.participants.medan``: the messages themselves."""

    class Meta:
        values = (events.ParticipantsSummarySchema, events.TestsSummarySchema)  # shared.openapi
