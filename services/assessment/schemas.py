from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

QUESTION_KINDS = ("multiple_choice", "true_false")
PHASES = ("pre", "post")


class Strict(Schema):
    class Meta:
        unknown = RAISE


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
    rollout_id = fields.Integer(required=True)
    session_key = fields.String(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    version = fields.Integer(load_default=1, validate=validate.Range(min=1))
    pass_percent = fields.Integer(load_default=60, validate=validate.Range(min=0, max=100))
    questions = fields.List(fields.Nested(QuestionIn), required=True, validate=validate.Length(min=1))

    @validates_schema
    def question_ids_unique(self, data, **kwargs):
        ids = [q["id"] for q in data["questions"]]
        if len(ids) != len(set(ids)):
            raise ValidationError("question ids must be unique", "questions")


class InstrumentOut(Schema):
    id = fields.Integer()
    rollout_id = fields.Integer()
    session_key = fields.String()
    title = fields.String()
    version = fields.Integer()
    pass_percent = fields.Integer()
    questions = fields.List(fields.Dict())


class SubmissionIn(Strict):
    instrument_id = fields.Integer(required=True)
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
