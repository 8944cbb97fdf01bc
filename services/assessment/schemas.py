from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from shared.pagination import PageQuery, page_of
from shared.validation import id_field, plausible_date

QUESTION_KINDS = ("multiple_choice", "true_false")
PHASES = ("pre", "post")


class Strict(Schema):
    class Meta:
        unknown = RAISE


class Query(Strict):
    """A query string: an empty value is the same as leaving the parameter out."""

    @pre_load
    def drop_empty(self, data, **kwargs):
        return {name: value for name, value in data.items() if value not in (None, "")}


class QuestionIn(Strict):
    id = fields.String(required=True, validate=validate.Length(min=1, max=20))
    text = fields.String(required=True, validate=validate.Length(min=1))
    topic = fields.String(required=True, validate=validate.Length(min=1, max=300))
    kind = fields.String(required=True, validate=validate.OneOf(QUESTION_KINDS))
    choices = fields.List(fields.String(), load_default=None)
    answer = fields.Raw(required=True)

    @validates_schema
    def answer_is_a_choice(self, data, **kwargs):
        if data["kind"] == "true_false":
            if not isinstance(data["answer"], bool):
                raise ValidationError("must be true or false", "answer")
        else:
            choices = data.get("choices") or []
            if len(choices) < 2:
                raise ValidationError("a multiple-choice question needs two choices or more", "choices")
            if data["answer"] not in choices:
                raise ValidationError("must be one of the choices", "answer")


class InstrumentIn(Strict):
    rollout_id = id_field(required=True)
    session_key = fields.String(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    # Left out: the session's next version.
    version = fields.Integer(load_default=None, validate=validate.Range(min=1))
    pass_percent = fields.Integer(load_default=60, validate=validate.Range(min=0, max=100))
    questions = fields.List(fields.Nested(QuestionIn), required=True, validate=validate.Length(min=1))

    @validates_schema
    def question_ids_unique(self, data, **kwargs):
        ids = [q["id"] for q in data["questions"]]
        if len(ids) != len(set(ids)):
            raise ValidationError("question ids must be unique", "questions")


class InstrumentQuery(Query, PageQuery):
    rollout_id = id_field(load_default=None)
    session_key = fields.String(load_default=None)


class InstrumentOut(Schema):
    id = fields.Integer()
    rollout_id = fields.Integer()
    session_key = fields.String()
    title = fields.String()
    version = fields.Integer()
    pass_percent = fields.Integer()
    questions = fields.List(fields.Dict())


class SubmissionIn(Strict):
    instrument_id = id_field(required=True)
    participant_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    phase = fields.String(required=True, validate=validate.OneOf(PHASES))
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)


class SubmissionOut(Schema):
    id = fields.Integer()
    instrument_id = fields.Integer()
    participant_code = fields.String()
    phase = fields.String()
    score = fields.Integer()
    max_score = fields.Integer()
    passed = fields.Boolean()
    topic_scores = fields.List(fields.Dict())
    # Unanswered questions score nothing; they are listed so a half-filled sheet is noticed.
    unanswered = fields.List(fields.String())


class ImportOut(Schema):
    imported = fields.Integer()
    submission_ids = fields.List(fields.Integer())


class IntervalOut(Schema):
    value = fields.Float(allow_none=True)
    n = fields.Integer()
    ci = fields.List(fields.Float(), allow_none=True)


class GainOut(Schema):
    """One group's gain; means and gains are fractions of the maximum."""

    paired = fields.Integer()
    perfect_pre = fields.Integer()
    pre_only = fields.Integer()
    post_only = fields.Integer()
    mean_pre = fields.Float(allow_none=True)
    mean_post = fields.Float(allow_none=True)
    gain_of_averages = fields.Nested(IntervalOut)
    mean_of_gains = fields.Nested(IntervalOut)


class TopicGainOut(GainOut):
    topic = fields.String()


class GroupGainOut(GainOut):
    by_topic = fields.List(fields.Nested(TopicGainOut))


class SessionGainOut(GroupGainOut):
    rollout_id = fields.Integer()
    session_key = fields.String()
    city = fields.String()


class ScopeGainOut(GroupGainOut):
    scope = fields.String()
    by_session = fields.List(fields.Nested(SessionGainOut))


class GainQuery(Query):
    rollout_id = id_field(load_default=None)


class ItemAnalysisQuery(Query):
    phase = fields.String(load_default="post", validate=validate.OneOf(PHASES))


class ItemOut(Schema):
    question = fields.String()
    topic = fields.String()
    n = fields.Integer()
    facility_index = fields.Float(allow_none=True)
    discrimination_index = fields.Float(allow_none=True)


class ItemAnalysisOut(Schema):
    instrument_id = fields.Integer()
    phase = fields.String()
    attempts = fields.Integer()
    items = fields.List(fields.Nested(ItemOut))


OWNERS = ("participant", "group")
PLAN_STATUSES = ("planned", "in_progress", "done", "dropped")


class ActionPlanIn(Strict):
    rollout_id = id_field(required=True)
    session_key = fields.String(required=True, validate=validate.Length(min=1, max=50))
    owner = fields.String(required=True, validate=validate.OneOf(OWNERS))
    participant_code = fields.String(load_default=None, validate=validate.Length(min=1, max=20))
    group_name = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    commitment = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    due_on = fields.Date(load_default=None, validate=plausible_date)

    @validates_schema
    def owner_is_named(self, data, **kwargs):
        if data["owner"] == "participant" and not data.get("participant_code"):
            raise ValidationError("a participant's plan needs the participant's code", "participant_code")
        if data["owner"] == "group" and not data.get("group_name"):
            raise ValidationError("a group's plan needs the group's name", "group_name")


class ActionPlanUpdate(Strict):
    status = fields.String(required=True, validate=validate.OneOf(PLAN_STATUSES))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))
    due_on = fields.Date(load_default=None, validate=plausible_date)


class ActionPlanQuery(Query, PageQuery):
    rollout_id = id_field(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(PLAN_STATUSES))


class ActionPlanOut(Schema):
    id = fields.Integer()
    rollout_id = fields.Integer()
    session_key = fields.String()
    city = fields.String()
    owner = fields.String()
    participant_code = fields.String(allow_none=True)
    group_name = fields.String(allow_none=True)
    commitment = fields.String()
    due_on = fields.Date(allow_none=True)
    status = fields.String()
    follow_ups = fields.List(fields.Dict())


InstrumentPage = page_of(InstrumentOut)
ActionPlanPage = page_of(ActionPlanOut)
