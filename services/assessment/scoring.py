"""Scoring one set of answers against an instrument's answer key (plain Python, nothing else)."""
from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import InvalidInput


class AnswerKey:
    """An instrument's questions, prepared once so that each submission scores in one pass.

    Strict: an answer is right only if it is the key itself (1 is not true and
    "True" is not true).  An unanswered question scores nothing; an answer to
    a question the instrument does not have is refused.
    """

    def __init__(self, questions: Sequence[Mapping[str, Any]], pass_percent: float) -> None:
        self.pass_percent = pass_percent
        self.topics = list(dict.fromkeys(q["topic"] for q in questions))
        index = {topic: i for i, topic in enumerate(self.topics)}
        self.key = [(q["id"], q["answer"], type(q["answer"]), index[q["topic"]]) for q in questions]
        self.ids = frozenset(q["id"] for q in questions)
        self.topic_max = [0] * len(self.topics)
        for *_, t in self.key:
            self.topic_max[t] += 1

    def score(self, answers: Mapping[str, Any]) -> tuple[int, int, bool, list[dict[str, Any]]]:
        """(score, max_score, passed, per-topic scores)."""
        if not self.ids.issuperset(answers):
            strangers = sorted(set(answers) - self.ids)
            raise InvalidInput(f"answers: unknown question(s) {', '.join(strangers)}",
                               fields={"answers": [f"unknown question {q}" for q in strangers]})
        right = [0] * len(self.topics)
        get = answers.get
        for question, answer, kind, topic in self.key:
            given = get(question)
            if given == answer and type(given) is kind:
                right[topic] += 1
        total = sum(right)
        max_score = len(self.key)
        return total, max_score, total * 100 >= self.pass_percent * max_score, [
            {"topic": topic, "score": n, "max_score": m} for topic, n, m in zip(self.topics, right, self.topic_max)]

    def marks(self, answers: Mapping[str, Any]) -> dict[str, int]:
        """{question id: 1 or 0}, for item analysis."""
        return {question: int(answers.get(question) == answer and type(answers.get(question)) is kind)
                for question, answer, kind, _ in self.key}


def score(questions: Sequence[Mapping[str, Any]], answers: Mapping[str, Any],
          pass_percent: float) -> tuple[int, int, bool, list[dict[str, Any]]]:
    """(score, max_score, passed, per-topic scores) for one set of answers."""
    return AnswerKey(questions, pass_percent).score(answers)
