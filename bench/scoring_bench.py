"""Scoring throughput: 100,000 submissions of a 20-question instrument, in process.

Prints the rate of the assessment's own scoring (``AnswerKey.score``: strict answer
check, per-topic scores, pass mark) and, measured in the same run over the
same answers, a baseline: a bare loop that only counts right answers.  The
ratio says what the domain's extra work costs.  Run:

    python bench/scoring_bench.py
"""
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.assessment.scoring import AnswerKey  # noqa: E402

SUBMISSIONS = 100_000
TOPICS = ["Literasi Digital", "Kejahatan Siber", "Eksploitasi Seksual Online", "Jejak Digital", "Melapor"]


def instrument(rng):
    questions = []
    for i in range(20):
        if i % 2:
            questions.append({"id": f"q{i + 1}", "topic": TOPICS[i % 5], "kind": "true_false",
                              "answer": rng.random() < 0.5})
        else:
            questions.append({"id": f"q{i + 1}", "topic": TOPICS[i % 5], "kind": "multiple_choice",
                              "choices": ["a", "b", "c", "d"], "answer": rng.choice("abcd")})
    return questions


def answer_sheets(rng, questions, n):
    """Each student answers about 90% of the questions, about 70% of them right."""
    sheets = []
    for _ in range(n):
        sheet = {}
        for q in questions:
            roll = rng.random()
            if roll < 0.1:
                continue
            if roll < 0.73:
                sheet[q["id"]] = q["answer"]
            else:
                sheet[q["id"]] = (not q["answer"]) if q["kind"] == "true_false" else rng.choice("abcd")
        sheets.append(sheet)
    return sheets


def baseline(questions, sheets):
    key = [(q["id"], q["answer"]) for q in questions]
    return sum(sum(1 for qid, answer in key if sheet.get(qid) == answer) for sheet in sheets)


def domain(questions, sheets):
    key = AnswerKey(questions, pass_percent=70)  # prepared once per instrument, as a sheet import does
    return sum(key.score(sheet)[0] for sheet in sheets)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main():
    began = time.perf_counter()
    rng = random.Random(2019)
    questions = instrument(rng)
    sheets = answer_sheets(rng, questions, SUBMISSIONS)
    right_base, base_seconds = timed(baseline, questions, sheets)
    right_domain, domain_seconds = timed(domain, questions, sheets)
    assert right_base == right_domain, "both must count the same right answers"
    print(f"{SUBMISSIONS:,} submissions of {len(questions)} questions ({right_domain:,} right answers)")
    print(f"baseline (count right answers):      {SUBMISSIONS / base_seconds:>10,.0f} submissions/s  "
          f"({base_seconds:.2f} s)")
    print(f"AnswerKey.score (topics, pass mark):{SUBMISSIONS / domain_seconds:>10,.0f} submissions/s  "
          f"({domain_seconds:.2f} s)")
    print(f"domain / baseline rate: {base_seconds / domain_seconds:.2f}")
    print(f"total run: {time.perf_counter() - began:.2f} s")


if __name__ == "__main__":
    main()
