"""What crosses the registration service's boundary: the API's requests and answers."""
from datetime import datetime, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from services.registration.rules import (  # noqa: F401  (the vocabulary, for the command line too)
    AGE_BANDS,
    AUDIENCES,
    CATEGORIES,
    CATEGORY_LABELS,
    CONSENT_GIVERS,
    PARTICIPANT_STATES,
    ROLLOUT_STATES,
    agenda_problems,
    minors_problems,
    quota_problem,
)
from shared.events import Localised
from shared.pagination import PageOut, PageQuery, page_of
from shared.validation import has_a_letter, id_field, plausible_date, plausible_past

NAME = [validate.Length(min=1, max=200), has_a_letter]  # a person's name, as it is compared (rules.normalised)


class Strict(Schema):
    class Meta:
        unknown = RAISE


# The report's narrative is data, printed as written and never read as markup; control characters
# are refused before any schema (shared.safe_input), lengths here.
TEXT_MAX = 3000  # characters of one paragraph or point, in each language
TEXTS_MAX = 40  # paragraphs or points of one section


def _text_fits(maximum):
    def check(value):
        for text in value.values() if isinstance(value, dict) else [value]:
            if not text.strip():
                raise ValidationError("must not be blank")
            if len(text) > maximum:
                raise ValidationError(f"must be at most {maximum} characters")
    return check


TEXT = {"description": 'a string, or one per language: {"id": "...", "en": "..."}'}


def Text(maximum=TEXT_MAX, **kwargs):  # noqa: N802  (a field, named like one)
    """A text of the narrative: a string printed in every language, or ``{"id": ..., "en": ...}``."""
    return Localised(validate=_text_fits(maximum), metadata=TEXT, **kwargs)


def Texts(**kwargs):  # noqa: N802
    """A section of the narrative: its paragraphs or points, each a ``Text``."""
    return fields.List(Text(), allow_none=True, validate=validate.Length(max=TEXTS_MAX), **kwargs)


# A facilitator or reporting institution of the city alone (a local official, the city's police
# unit) is marked "local": a clone for another city leaves it out.
LOCAL = {"description": "of this city alone: a clone for another city leaves it out"}


class FacilitatorIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation = fields.String(required=True, validate=validate.Length(min=1, max=200))
    local = fields.Boolean(metadata=LOCAL)


class ReportingInstitutionIn(Strict):
    """Where abuse can be reported: who, how (a hotline, an app, a web form), at what address."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    channel = Text(200, required=True)
    contact = fields.String(required=True, validate=validate.Length(min=1, max=300))
    local = fields.Boolean(metadata=LOCAL)


class QuestionAnswerIn(Strict):
    question = Text(required=True)
    answer = Text(required=True)


class NarrativeIn(Strict):
    """The report's narrative (``shared.events.NarrativeSchema``), each field optional."""

    organisation = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    issued_on = fields.Date(allow_none=True, validate=plausible_date)
    background = Texts()
    aims = Texts()
    expected_learning = Texts()
    tips = Texts()
    reporting_institutions = fields.List(fields.Nested(ReportingInstitutionIn), allow_none=True,
                                         validate=validate.Length(max=TEXTS_MAX))
    findings = Texts()
    qa = fields.List(fields.Nested(QuestionAnswerIn), allow_none=True, validate=validate.Length(max=TEXTS_MAX))
    recommendations = Texts()
    follow_up = Texts()


class TopicIn(Strict):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    facilitators = fields.List(fields.Nested(FacilitatorIn), load_default=list)


class QuotaIn(Strict):
    """The committee's target for one participant category in a session."""

    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    minimum = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))
    maximum = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100000))

    @validates_schema
    def minimum_below_maximum(self, data, **kwargs):
        if data.get("maximum") is not None and data["maximum"] < data.get("minimum", 0):
            raise ValidationError("must not be below minimum", "maximum")


class SessionIn(Strict):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{1,50}$"))
    day = fields.Integer(required=True, validate=validate.Range(min=1, max=14))
    date = fields.Date(required=True, validate=plausible_date)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    audience = fields.String(required=True, validate=validate.OneOf(AUDIENCES))
    opened_by = Text(200, load_default=None, allow_none=True)  # who opened the day: of this city alone
    topics = fields.List(fields.Nested(TopicIn), load_default=list)
    capacity = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=100000))
    quotas = fields.List(fields.Nested(QuotaIn), load_default=list)
    summary = Texts(load_default=None)  # what happened that day

    @validates_schema
    def quotas_fit_the_audience(self, data, **kwargs):
        problem = quota_problem(data["audience"], data.get("quotas", []))
        if problem:
            raise ValidationError(problem, "quotas")


class RolloutIn(NarrativeIn):
    program = fields.String(required=True, validate=validate.Length(min=1, max=200))
    city_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    province = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    venue = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    starts_on = fields.Date(required=True, validate=plausible_date)
    ends_on = fields.Date(required=True, validate=plausible_date)
    committee_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    committee_email = fields.Email(required=True, validate=validate.Length(max=200))
    author = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    editor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    sessions = fields.List(fields.Nested(SessionIn), required=True, validate=validate.Length(min=1))

    @validates_schema
    def dates_in_order(self, data, **kwargs):
        problems = agenda_problems(data["starts_on"], data["ends_on"], [s["date"] for s in data["sessions"]])
        if problems:
            raise ValidationError(problems)
        keys = [s["key"] for s in data["sessions"]]
        if len(set(keys)) != len(keys):
            raise ValidationError("session keys must be unique", "sessions")


class SessionEdit(Strict):
    """A change to one session, found by its key; only the fields given change."""

    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{1,50}$"))
    date = fields.Date(validate=plausible_date)
    title = fields.String(validate=validate.Length(min=1, max=300))
    opened_by = Text(200, allow_none=True)
    topics = fields.List(fields.Nested(TopicIn))
    capacity = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100000))
    quotas = fields.List(fields.Nested(QuotaIn))
    summary = Texts()


class RolloutEdit(NarrativeIn):
    """An edit of a planned or launched rollout, its narrative too; only the fields given change."""

    program = fields.String(validate=validate.Length(min=1, max=200))
    province = fields.String(allow_none=True, validate=validate.Length(max=100))
    venue = fields.String(allow_none=True, validate=validate.Length(max=200))
    starts_on = fields.Date(validate=plausible_date)
    ends_on = fields.Date(validate=plausible_date)
    committee_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    committee_email = fields.Email(validate=validate.Length(max=200))
    author = fields.String(allow_none=True, validate=validate.Length(max=200))
    editor = fields.String(allow_none=True, validate=validate.Length(max=200))
    sessions = fields.List(fields.Nested(SessionEdit))


class CloneIn(Strict):
    """A new city's draft from another rollout: what the program shares, and the city's own fields given.

    Without ``starts_on`` the draft has no dates yet; without a committee, no committee.
    """

    city_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    province = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    venue = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    starts_on = fields.Date(load_default=None, allow_none=True, validate=plausible_date)
    committee_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    committee_email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=200))
    program = fields.String(validate=validate.Length(min=1, max=200))


class CancelIn(Strict):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CheckInIn(Strict):
    # The participant's session and its day unless given; given, they must match.
    session_key = fields.String(validate=validate.Regexp(r"^[a-z0-9-]{1,50}$"))
    day = fields.Integer(validate=validate.Range(min=1, max=14))


class TargetCheckIn(Strict):
    today = fields.Date(validate=plausible_date)
    within_days = fields.Integer(load_default=14, validate=validate.Range(min=0, max=365))


class RolloutQuery(Strict, PageQuery):
    program = fields.String()
    status = fields.String(validate=validate.OneOf(ROLLOUT_STATES))
    city = fields.String()


class ParticipantQuery(Strict, PageQuery):
    status = fields.String(validate=validate.OneOf(PARTICIPANT_STATES))


class AuditQuery(Strict, PageQuery):
    rollout_id = id_field()
    city = fields.String(validate=validate.Length(max=100))


class AuditOut(Schema):
    """One read of participants' personal data, or one purge of it."""

    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(allow_none=True)
    action = fields.String()
    rollout_id = fields.Integer()
    city = fields.String()
    rows = fields.Integer()


def _blanks_to_none(data):
    # CSV cells and forms send "" for an empty field.
    if isinstance(data, dict):
        return {k: None if isinstance(v, str) and not v.strip() else v for k, v in data.items()}
    return data


class ParticipantIn(Strict):
    full_name = fields.String(required=True, validate=NAME)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    organisation = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    sex = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["F", "M"]))
    age_band = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(AGE_BANDS))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\+?[0-9 ()-]{6,20}$"))
    consent_by = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(CONSENT_GIVERS))
    consent_at = fields.AwareDateTime(load_default=None, allow_none=True, validate=plausible_past)  # now if not given

    @pre_load
    def blanks_are_missing(self, data, **kwargs):
        return _blanks_to_none(data)

    @validates_schema
    def children_are_protected(self, data, **kwargs):
        problems = minors_problems(data.get("category"), data.get("age_band"), data.get("email"), data.get("phone"),
                                   data.get("consent_by"), data.get("consent_at"), datetime.now(timezone.utc))
        if problems:
            raise ValidationError(problems)


class ParticipantEdit(Strict):
    """A correction: only the fields given change; the rules of a registration apply to the result."""

    full_name = fields.String(validate=NAME)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    organisation = fields.String(allow_none=True, validate=validate.Length(max=200))
    sex = fields.String(allow_none=True, validate=validate.OneOf(["F", "M"]))
    age_band = fields.String(allow_none=True, validate=validate.OneOf(AGE_BANDS))
    email = fields.Email(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True, validate=validate.Regexp(r"^\+?[0-9 ()-]{6,20}$"))
    consent_by = fields.String(allow_none=True, validate=validate.OneOf(CONSENT_GIVERS))
    consent_at = fields.AwareDateTime(allow_none=True, validate=plausible_past)

    @pre_load
    def blanks_are_missing(self, data, **kwargs):
        return _blanks_to_none(data)


class ParticipantOut(Schema):
    id = fields.Integer()
    code = fields.String()
    rollout_id = fields.Integer()
    session_key = fields.Function(lambda p: p.session.key, metadata={"type": "string"})
    status = fields.String()
    full_name = fields.String()
    category = fields.String()
    organisation = fields.String()
    sex = fields.String()
    age_band = fields.String()
    minor = fields.Boolean()
    consent_by = fields.String()
    consent_at = fields.AwareDateTime()
    registered_at = fields.AwareDateTime()
    # The participant's record in an earlier rollout of the city, when they come back.
    returning_of = fields.Integer(allow_none=True)


class QuotaOut(Schema):
    category = fields.String()
    minimum = fields.Integer()
    maximum = fields.Integer()


class SessionOut(Schema):
    key = fields.String()
    day = fields.Integer()
    date = fields.Date()
    title = fields.String()
    audience = fields.String()
    opened_by = fields.Raw(metadata=TEXT)
    topics = fields.List(fields.Dict())
    capacity = fields.Integer()
    quotas = fields.List(fields.Nested(QuotaOut))
    summary = fields.List(fields.Raw(metadata=TEXT))


class RolloutOut(Schema):
    id = fields.Integer()
    program = fields.String()
    city = fields.String()
    city_name = fields.String()
    province = fields.String(validate=validate.Length(max=100))
    venue = fields.String(validate=validate.Length(max=200))
    starts_on = fields.Date()
    ends_on = fields.Date()
    committee_name = fields.String(validate=validate.Length(max=200))
    committee_email = fields.String()
    author = fields.String(validate=validate.Length(max=200))
    editor = fields.String(validate=validate.Length(max=200))
    status = fields.String()
    registration_open = fields.Boolean()
    cancel_reason = fields.String()
    sessions = fields.List(fields.Nested(SessionOut))
    organisation = fields.String()
    issued_on = fields.Date()
    background = fields.List(fields.Raw(metadata=TEXT))
    aims = fields.List(fields.Raw(metadata=TEXT))
    expected_learning = fields.List(fields.Raw(metadata=TEXT))
    tips = fields.List(fields.Raw(metadata=TEXT))
    reporting_institutions = fields.List(fields.Dict())
    findings = fields.List(fields.Raw(metadata=TEXT))
    qa = fields.List(fields.Dict())
    recommendations = fields.List(fields.Raw(metadata=TEXT))
    follow_up = fields.List(fields.Raw(metadata=TEXT))


class CommitteeListRow(Schema):
    participant_id = fields.Integer(required=True)
    code = fields.String(required=True)
    full_name = fields.String(required=True)
    category = fields.String(required=True)
    organisation = fields.String(required=True)
    session = fields.String(required=True)
    day = fields.Integer(required=True)


class CommitteeListOut(PageOut):
    """A page of a rollout's list for its committee: the committee's columns only (no contacts, ages or
    consent), with the rollout it is of."""

    rollout_id = fields.Integer(required=True)
    city = fields.String(required=True)
    city_name = fields.String(required=True)
    committee_name = fields.String()
    committee_email = fields.String()
    items = fields.List(fields.Nested(CommitteeListRow, required=True), required=True)


class ImportOut(Schema):
    imported = fields.Integer()
    registered = fields.Integer()
    waitlisted = fields.Integer()
    returning = fields.Integer()  # of them, people with a record in an earlier rollout of the city
    codes = fields.List(fields.String())


class RowProblemOut(Schema):
    line = fields.Integer(allow_none=True)  # the header is line 1; none for the file as a whole
    field = fields.String()
    problem = fields.String()
    existing_participant_id = fields.Integer()


class ImportJobOut(Schema):
    """An import as its city's worker takes it: queued -> running -> succeeded | failed."""

    id = fields.Integer()
    rollout_id = fields.Integer()
    status = fields.String()
    rows_total = fields.Integer(allow_none=True)  # known once the worker has read the file
    rows_done = fields.Integer()  # rows checked so far
    message = fields.String(allow_none=True)  # why it failed
    errors = fields.List(fields.Nested(RowProblemOut))  # every problem of the file: nothing was imported
    result = fields.Nested(ImportOut, allow_none=True)  # once it succeeded
    file_bytes = fields.Integer()
    created_at = fields.AwareDateTime()
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)


class CheckInOut(Schema):
    participant_id = fields.Integer()
    code = fields.String()
    session_key = fields.String()
    day = fields.Integer()
    checked_in_at = fields.AwareDateTime()


class TargetGapOut(Schema):
    session_key = fields.String()
    session_date = fields.Date()
    category = fields.String()
    minimum = fields.Integer()
    registered = fields.Integer()
    announced = fields.Boolean()  # False when already announced today


RolloutPage = page_of(RolloutOut)
ParticipantPage = page_of(ParticipantOut)
AuditPage = page_of(AuditOut)

# What a committee needs to know of each participant, and no more.
COMMITTEE_LIST_FIELDS = ("code", "full_name", "category", "organisation", "session", "day")
