"""Disclosure control for linked frequency tables: primary and secondary cell suppression (pure).

Method: Gaussian-elimination secondary suppression, as Statistics Norway does it
(Langsrud, "Secondary Cell Suppression by Gaussian Elimination: An Algorithm
Suitable for Handling Issues with Zeros and Singletons", Journal of Official
Statistics 40(4), 2024; the R package GaussSuppression), on the linear model of
Hundepool et al., *Statistical Disclosure Control* (Wiley, 2012), ch. 4:

- Every published cell is a sum of **inner cells** (the finest counts nobody
  publishes: one group of people in one rollout).  A cell is a vector over the
  inner cells; publishing it publishes that linear equation.
- A hidden cell can be worked out exactly from the published ones when its vector
  lies in the span of the published vectors.  Linked tables (a city against the
  national roll-up, one rollout against its city, sessions against the whole)
  and earlier releases are simply more published vectors over the same inner cells.
- **Primary** suppression: a cell of 1 to 4 people is hidden (``SMALL``).
  **Secondary** suppression: the other cells are taken one by one, in order of
  priority, and each is published unless adding its vector to the published span
  would bring a cell to protect into it; then it is hidden (``PROTECTING``).
  Because every hidden cell was refused on that ground, no hidden cell (primary
  or secondary) lies in the span of what is finally published.

The span is kept in reduced row-echelon form over exact rationals
(``fractions.Fraction``): the tables here have at most a few thousand cells.

Not covered (documented in docs/reporting.md): the bounds the markers themselves
give (a "<5" is 1 to 4, an "x" at least 5), and singletons (one person who
knows their own cell); the audit here is exact linear recovery.
"""
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from fractions import Fraction

SMALL_CELL = 5
PUBLISHED = "published"
SMALL = "<5"  # primary: 1 to 4 people
PROTECTING = "x"  # secondary: hidden only so that a small cell cannot be worked out

Vector = dict[int, Fraction]


@dataclass(frozen=True)
class Cell:
    """A cell offered for publication: the sum of ``inner`` (inner-cell ids), worth ``value``.

    ``rank`` orders the candidates: lower ranks are published first when a choice
    has to be made (so secondary suppression falls on the higher ranks).
    """

    key: Hashable
    inner: frozenset[int]
    value: int
    rank: tuple = ()


def is_small(value: int) -> bool:
    return 0 < value < SMALL_CELL


class Span:
    """The span of the published vectors, in reduced row-echelon form."""

    def __init__(self) -> None:
        self.rows: dict[int, Vector] = {}  # pivot -> row with row[pivot] == 1 and 0 at every other pivot
        self._pivots_in: dict[int, set[int]] = {}  # column -> pivots of the rows where it is non-zero

    def reduce(self, vector: Vector) -> Vector:
        """What is left of ``vector`` outside the span (empty when it lies in it)."""
        left = dict(vector)
        for pivot in [column for column in vector if column in self.rows]:
            factor = left.get(pivot)
            if factor:
                _add(left, self.rows[pivot], -factor)
        return left

    def add(self, vector: Vector) -> Vector:
        """Add ``vector`` to the span; returns its reduced, normalised new row (empty if it added nothing)."""
        row = self.reduce(vector)
        if not row:
            return row
        pivot = min(row)
        scale = row[pivot]
        row = {column: value / scale for column, value in row.items()}
        for other in list(self._pivots_in.get(pivot, ())):  # keep the other rows free of the new pivot
            factor = self.rows[other].get(pivot)
            if factor:
                self._update(other, factor, row)
        self.rows[pivot] = row
        for column in row:
            self._pivots_in.setdefault(column, set()).add(pivot)
        return row

    def contains(self, vector: Vector) -> bool:
        return not self.reduce(vector)

    def _update(self, pivot: int, factor: Fraction, row: Vector) -> None:
        target = self.rows[pivot]
        before = set(target)
        _add(target, row, -factor)
        for column in before - set(target):
            self._pivots_in[column].discard(pivot)
        for column in set(target) - before:
            self._pivots_in.setdefault(column, set()).add(pivot)


def _add(target: Vector, row: Vector, factor: Fraction) -> None:
    for column, value in row.items():
        total = target.get(column, 0) + factor * value
        if total:
            target[column] = total
        else:
            target.pop(column, None)


def vector(inner: Iterable[int]) -> Vector:
    return {i: Fraction(1) for i in inner}


def suppress(cells: list[Cell], known: Iterable[frozenset[int]] = (),
             protect: Iterable[frozenset[int]] = ()) -> dict[Hashable, str]:
    """Each cell's fate: PUBLISHED, SMALL or PROTECTING.

    ``known``: vectors already public (earlier releases still standing), never hidden again.
    ``protect``: vectors hidden before, which must stay out of reach as this release's small cells.
    """
    span = Span()
    for inner in known:
        span.add(vector(inner))
    fate: dict[Hashable, str] = {}
    guarded: list[Vector] = []  # residuals of the vectors to protect, outside the span
    to_protect = [vector(inner) for inner in protect]
    for cell in cells:
        if is_small(cell.value):
            fate[cell.key] = SMALL
            to_protect.append(vector(cell.inner))
    for target in to_protect:
        left = span.reduce(target)
        if left:  # (one already given away by ``known`` cannot be protected any more)
            guarded.append(left)
    for cell in sorted((c for c in cells if c.key not in fate), key=lambda c: c.rank):
        left = span.reduce(vector(cell.inner))
        if not left:  # it says nothing new
            fate[cell.key] = PUBLISHED
            continue
        pivot = min(left)
        new_row = {column: value / left[pivot] for column, value in left.items()}
        if any(_parallel(residual, new_row, pivot) for residual in guarded):
            fate[cell.key] = PROTECTING
            continue
        fate[cell.key] = PUBLISHED
        span.add(new_row)
        for i, residual in enumerate(guarded):
            factor = residual.get(pivot)
            if factor:
                reduced = dict(residual)
                _add(reduced, new_row, -factor)
                guarded[i] = reduced
    return fate


def _parallel(residual: Vector, row: Vector, pivot: int) -> bool:
    """Whether ``residual`` is a multiple of ``row`` (whose ``pivot`` entry is 1)."""
    factor = residual.get(pivot)
    if not factor or len(residual) != len(row):
        return False
    return all(residual.get(column) == factor * value for column, value in row.items())


def recoverable(published: Iterable[Iterable[int]], hidden: Iterable[Iterable[int]]) -> list[int]:
    """The positions in ``hidden`` whose value follows exactly from the ``published`` sums."""
    span = Span()
    for inner in published:
        span.add(vector(inner))
    return [i for i, inner in enumerate(hidden) if span.contains(vector(inner))]
