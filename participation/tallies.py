"""Results of the voting methods, computed from aggregated counts (DESIGN.md §5).

Pure functions: the database does the counting (``GROUP BY``) and passes plain mappings
here; each function checks its input and returns a frozen dataclass. Participatory
budgeting lives in :mod:`participation.budgeting`.

Ties are never broken silently. Rankings use standard competition ranks ("1224": tied
entries share a rank and the next rank is skipped); among tied entries the order is the
order of the caller's input (e.g. proposal ids or the ballot-paper order), so output is
reproducible. Instant-runoff eliminations need a single loser and use the rule documented
in :func:`instant_runoff`.

Shares are floats in [0, 1]; a share whose denominator is 0 is ``None``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

from core.errors import ValidationError

K = TypeVar("K", bound=Hashable)
G = TypeVar("G", bound=Hashable)

SINGLE_CHOICE_OPTIONS = ("yes", "no", "abstain")
"""The keys :func:`single_choice` accepts."""

AGREE, DISAGREE, PASS = 1, -1, 0
"""Vote values of :func:`agree_disagree` (those of the Pol.is exports)."""


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _check_count(value: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"expected a whole number ≥ 0, got {value!r}", field=field)


@dataclass(frozen=True)
class RankedEntry(Generic[K]):
    """One entry of a ranking.

    Attributes:
        key: the proposal / candidate.
        score: its count (approvals) or points (Borda).
        rank: 1-based competition rank; tied entries share it.
        share: ``score`` as a share of the ballots, where that means something, else
            ``None``.
    """

    key: K
    score: int
    rank: int
    share: float | None


def _rank(scores: Mapping[K, int], ballots: int | None) -> tuple[RankedEntry[K], ...]:
    ordered = sorted(scores.items(), key=lambda item: -item[1])  # stable: input order on ties
    entries: list[RankedEntry[K]] = []
    for position, (key, score) in enumerate(ordered, start=1):
        rank = entries[-1].rank if entries and entries[-1].score == score else position
        share = _share(score, ballots) if ballots is not None else None
        entries.append(RankedEntry(key, score, rank, share))
    return tuple(entries)


# --- single choice -------------------------------------------------------------------------


@dataclass(frozen=True)
class SingleChoiceResult:
    """Result of a yes / no / abstain vote on one proposal.

    Attributes:
        yes, no, abstain: ballots of each kind.
        cast: ``yes + no + abstain``.
        yes_share, no_share, abstain_share: shares of ``cast``.
        eligible: size of the electorate, if given.
        turnout: ``cast / eligible`` (abstentions count as turnout), if ``eligible`` given.
        quorum: the turnout quorum asked for (share in [0, 1]), if any.
        quorum_met: ``turnout >= quorum``; ``None`` when there is no quorum.
        majority: ``yes > no`` (a strict majority of the yes/no ballots; abstentions
            neither help nor hurt).
        adopted: ``majority`` and the quorum (if any) met.
    """

    yes: int
    no: int
    abstain: int
    cast: int
    yes_share: float | None
    no_share: float | None
    abstain_share: float | None
    eligible: int | None
    turnout: float | None
    quorum: float | None
    quorum_met: bool | None
    majority: bool
    adopted: bool


def single_choice(
    counts: Mapping[str, int], *, eligible: int | None = None, quorum: float | None = None
) -> SingleChoiceResult:
    """Tally a yes / no / abstain vote on one proposal, with an optional turnout quorum.

    Args:
        counts: ballots per option, keys among ``"yes"``, ``"no"``, ``"abstain"`` (a
            missing key counts 0) — the rows of ``GROUP BY value``.
        eligible: the number of people entitled to vote; required with ``quorum``.
        quorum: minimum turnout as a share in [0, 1] (e.g. ``0.25`` for 25 % of the
            electorate), where turnout counts every ballot cast, abstentions included.

    Returns:
        Counts, shares of the ballots cast, turnout and whether the proposal is adopted.

    Raises:
        ValidationError: an unknown option, a negative or non-integer count, a quorum
            outside [0, 1] or without ``eligible``, or more ballots than ``eligible``.
    """
    unknown = sorted(set(counts) - set(SINGLE_CHOICE_OPTIONS))
    if unknown:
        raise ValidationError(
            f"unknown option(s) {unknown}; expected {list(SINGLE_CHOICE_OPTIONS)}",
            field="counts",
        )
    yes, no, abstain = (counts.get(option, 0) for option in SINGLE_CHOICE_OPTIONS)
    for option, value in zip(SINGLE_CHOICE_OPTIONS, (yes, no, abstain), strict=True):
        _check_count(value, option)
    cast = yes + no + abstain
    if eligible is not None:
        _check_count(eligible, "eligible")
        if cast > eligible:
            raise ValidationError(
                f"{cast} ballots cast but only {eligible} people eligible", field="eligible"
            )
    if quorum is not None:
        if not 0 <= quorum <= 1:
            raise ValidationError(f"expected a share in [0, 1], got {quorum!r}", field="quorum")
        if eligible is None:
            raise ValidationError("a turnout quorum needs the electorate size", field="eligible")
    turnout = _share(cast, eligible) if eligible is not None else None
    quorum_met = None if quorum is None else (turnout or 0.0) >= quorum
    majority = yes > no
    return SingleChoiceResult(
        yes=yes,
        no=no,
        abstain=abstain,
        cast=cast,
        yes_share=_share(yes, cast),
        no_share=_share(no, cast),
        abstain_share=_share(abstain, cast),
        eligible=eligible,
        turnout=turnout,
        quorum=quorum,
        quorum_met=quorum_met,
        majority=majority,
        adopted=majority and quorum_met is not False,
    )


# --- approval ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalResult(Generic[K]):
    """Result of an approval vote.

    Attributes:
        ballots: number of ballots, if given (the denominator of the shares).
        ranking: every proposal, most approved first (see the module doc for ties).
    """

    ballots: int | None
    ranking: tuple[RankedEntry[K], ...]

    def winners(self, seats: int) -> tuple[K, ...]:
        """Return the ``seats`` most approved proposals, or more when the last seat is tied.

        Raises:
            ValidationError: ``seats`` < 0.
        """
        if seats < 0:
            raise ValidationError(f"expected seats ≥ 0, got {seats}", field="seats")
        if seats == 0 or not self.ranking:
            return ()
        cut = self.ranking[min(seats, len(self.ranking)) - 1].score
        return tuple(e.key for e in self.ranking if e.rank <= seats or e.score == cut)


def approval(counts: Mapping[K, int], *, ballots: int | None = None) -> ApprovalResult[K]:
    """Rank proposals by approvals.

    Args:
        counts: approvals per proposal (every proposal, zeros included) — the rows of
            ``GROUP BY proposal_id``. Its order is the tie order.
        ballots: number of ballots cast, to give each proposal's share of ballots.

    Returns:
        The ranking, most approved first; tied proposals share a rank and keep the input
        order.

    Raises:
        ValidationError: a negative or non-integer count, or a count above ``ballots``.
    """
    if ballots is not None:
        _check_count(ballots, "ballots")
    for key, count in counts.items():
        _check_count(count, f"counts[{key!r}]")
        if ballots is not None and count > ballots:
            raise ValidationError(
                f"{count} approvals but only {ballots} ballots", field=f"counts[{key!r}]"
            )
    return ApprovalResult(ballots, _rank(counts, ballots))


# --- ranked ballots ------------------------------------------------------------------------


def _check_ballots(
    ballots: Mapping[tuple[K, ...], int], candidates: Sequence[K]
) -> tuple[set[K], int]:
    """Check ranked ballots; return the candidate set and the number of ballots."""
    known = set(candidates)
    if len(known) != len(candidates):
        raise ValidationError("a candidate is listed twice", field="candidates")
    total = 0
    for ranking, count in ballots.items():
        _check_count(count, f"ballots[{ranking!r}]")
        if len(set(ranking)) != len(ranking):
            raise ValidationError(f"ranking {ranking!r} names a candidate twice", field="ballots")
        strangers = [c for c in ranking if c not in known]
        if strangers:
            raise ValidationError(
                f"ranking {ranking!r} names unknown candidate(s) {strangers!r}", field="ballots"
            )
        total += count
    return known, total


@dataclass(frozen=True)
class BordaResult(Generic[K]):
    """Result of a Borda count.

    Attributes:
        ballots: number of ballots counted.
        ranking: every candidate, most points first; ``score`` = points, ``share`` =
            ``None``.
    """

    ballots: int
    ranking: tuple[RankedEntry[K], ...]

    @property
    def winners(self) -> tuple[K, ...]:
        """Candidates with the most points (more than one on a tie)."""
        return tuple(e.key for e in self.ranking if e.rank == 1)


def borda(ballots: Mapping[tuple[K, ...], int], *, candidates: Sequence[K]) -> BordaResult[K]:
    """Count points by the Borda rule, with the modified Borda count for partial rankings.

    With ``n`` candidates a ballot ranking ``m`` of them gives, to its candidate in
    position ``i`` (0-based), ``min(m, n - 1) - i`` points, and 0 to unranked candidates:

    - a full ranking (``m = n``) gives ``n-1, n-2, …, 0`` — the classic Borda count
      (de Borda 1781; e.g. the Tennessee capital example);
    - a partial ranking (``m < n``) gives ``m, m-1, …, 1`` — the *modified Borda count*
      (Emerson, "The original Borda count and partial voting", Social Choice and Welfare
      40(2), 2013): a voter who ranks fewer candidates gives fewer points, so truncating a
      ballot gains nothing. A ranking of ``n-1`` scores exactly as its completed full
      ranking.

    Args:
        ballots: ``{ranking: number of ballots}``, a ranking being a tuple of candidates,
            most preferred first (an empty tuple is a blank ballot: no points).
        candidates: every candidate; its order is the tie order.

    Returns:
        Points per candidate, ranked.

    Raises:
        ValidationError: a ranking repeats or names an unknown candidate, a count is
            negative or not an integer, or a candidate is listed twice.
    """
    _, total = _check_ballots(ballots, candidates)
    top = len(candidates) - 1
    points = dict.fromkeys(candidates, 0)
    for ranking, count in ballots.items():
        first = min(len(ranking), top)
        for position, candidate in enumerate(ranking):
            points[candidate] += (first - position) * count
    return BordaResult(total, _rank(points, None))


@dataclass(frozen=True)
class IrvRound(Generic[K]):
    """One round of an instant-runoff count.

    Attributes:
        number: 1-based round number.
        votes: ballots counting for each continuing candidate (highest-ranked continuing
            candidate on the ballot), in candidate order.
        exhausted: ballots with no continuing candidate left.
        eliminated: the candidate eliminated after this round, ``None`` in the last round.
        tie_break: how a tie for last place was settled (``"earlier rounds"`` or
            ``"candidate order"``), ``None`` when there was no tie.
    """

    number: int
    votes: Mapping[K, int]
    exhausted: int
    eliminated: K | None
    tie_break: str | None


@dataclass(frozen=True)
class IrvResult(Generic[K]):
    """Result of an instant-runoff count.

    Attributes:
        winner: the elected candidate, ``None`` when no ballot ranks any candidate.
        rounds: every round, first to last.
    """

    winner: K | None
    rounds: tuple[IrvRound[K], ...]


def _pick_loser(
    tied: list[K], history: Sequence[Mapping[K, int]], candidates: Sequence[K]
) -> tuple[K, str | None]:
    """Choose who is eliminated among candidates tied for the fewest votes."""
    if len(tied) == 1:
        return tied[0], None
    for votes in reversed(history):
        fewest = min(votes[c] for c in tied)
        tied = [c for c in tied if votes[c] == fewest]
        if len(tied) == 1:
            return tied[0], "earlier rounds"
    order = {c: i for i, c in enumerate(candidates)}
    return max(tied, key=order.__getitem__), "candidate order"


def instant_runoff(
    ballots: Mapping[tuple[K, ...], int], *, candidates: Sequence[K]
) -> IrvResult[K]:
    """Elect one candidate by instant-runoff voting (alternative vote, single seat).

    Each round, every ballot counts for its highest-ranked continuing candidate; ballots
    with none left are exhausted. A candidate with more than half of the non-exhausted
    ballots wins; otherwise the candidate with the fewest votes is eliminated and the count
    repeats (one elimination per round). A lone continuing candidate with at least one
    vote wins.

    Tie for fewest votes: the "backwards" tie-break (as in the Scottish Local Government
    Elections Order 2007 for STV exclusions) eliminates the tied candidate who had fewer
    votes in the most recent earlier round where the tied candidates' counts differ
    ("earlier rounds"). If they were tied in every round, where those rules draw lots,
    this function eliminates the one listed *last* in ``candidates`` ("candidate order"),
    so the lot is drawn before the count, by the caller ordering the candidates.

    Args:
        ballots: ``{ranking: number of ballots}``, most preferred first; a ranking may be
            partial or empty.
        candidates: every candidate, in the tie-break order described above.

    Returns:
        The winner and all rounds.

    Raises:
        ValidationError: as for :func:`borda`.
    """
    _check_ballots(ballots, candidates)
    continuing = list(candidates)
    history: list[Mapping[K, int]] = []
    rounds: list[IrvRound[K]] = []
    while continuing:
        active = set(continuing)
        votes = dict.fromkeys(continuing, 0)
        exhausted = 0
        for ranking, count in ballots.items():
            choice = next((c for c in ranking if c in active), None)
            if choice is None:
                exhausted += count
            else:
                votes[choice] += count
        counted = sum(votes.values())
        number = len(rounds) + 1
        frozen_votes = MappingProxyType(votes)
        leader = max(continuing, key=votes.__getitem__)
        if counted == 0 or votes[leader] * 2 > counted:
            rounds.append(IrvRound(number, frozen_votes, exhausted, None, None))
            return IrvResult(leader if counted else None, tuple(rounds))
        fewest = min(votes.values())
        loser, tie_break = _pick_loser(
            [c for c in continuing if votes[c] == fewest], history, candidates
        )
        rounds.append(IrvRound(number, frozen_votes, exhausted, loser, tie_break))
        history.append(frozen_votes)
        continuing.remove(loser)
    return IrvResult(None, tuple(rounds))


# --- agree / disagree (Pol.is) -------------------------------------------------------------


@dataclass(frozen=True)
class StatementTally(Generic[K, G]):
    """Agree / disagree / pass result of one statement.

    Attributes:
        statement: the statement key.
        agree, disagree, passed: votes of each kind.
        votes: all votes cast on it, passes included.
        agree_share, disagree_share, pass_share: shares of ``votes``.
        group_agree_shares: agree share within each opinion group that voted on it.
        consensus: group-aware consensus — the smallest of ``group_agree_shares`` —
            ``None`` when no group data was given or no group voted.
    """

    statement: K
    agree: int
    disagree: int
    passed: int
    votes: int
    agree_share: float | None
    disagree_share: float | None
    pass_share: float | None
    group_agree_shares: Mapping[G, float]
    consensus: float | None


@dataclass(frozen=True)
class AgreeDisagreeResult(Generic[K, G]):
    """Result of a Pol.is-style conversation.

    Attributes:
        statements: one tally per statement, in input order.
    """

    statements: tuple[StatementTally[K, G], ...]

    def by_consensus(self) -> tuple[StatementTally[K, G], ...]:
        """Statements with a consensus value, highest first (ties keep input order)."""
        scored = [s for s in self.statements if s.consensus is not None]
        return tuple(sorted(scored, key=lambda s: -(s.consensus or 0.0)))


def _vote_counts(counts: Mapping[int, int], field: str) -> tuple[int, int, int]:
    unknown = sorted(set(counts) - {AGREE, DISAGREE, PASS})
    if unknown:
        raise ValidationError(
            f"unknown vote value(s) {unknown}; expected 1 (agree), -1 (disagree), 0 (pass)",
            field=field,
        )
    values = (counts.get(AGREE, 0), counts.get(DISAGREE, 0), counts.get(PASS, 0))
    for value in values:
        _check_count(value, field)
    return values


def agree_disagree(
    counts: Mapping[K, Mapping[int, int]],
    *,
    group_counts: Mapping[K, Mapping[G, Mapping[int, int]]] | None = None,
) -> AgreeDisagreeResult[K, G]:
    """Tally agree / disagree / pass votes per statement, with group-aware consensus.

    Group-aware consensus follows the idea of Pol.is (Small et al., "Polis: Scaling
    deliberation by mapping high dimensional opinion spaces", Recerca 26(2), 2021): a
    statement shows consensus only if *every* opinion group agrees with it, so it is
    scored by its weakest group. Pol.is itself multiplies, over groups, the
    Laplace-smoothed agree probability ``(A_g + 1) / (S_g + 2)``
    (``group-aware-consensus`` in ``compdemocracy/polis``, math ``repness.clj``); here the
    simpler, explainable form is used: ``min over groups g of A_g / S_g``, ``S_g`` being
    all votes of group ``g`` on the statement (passes included). Groups that did not vote
    on a statement are left out of its minimum.

    Args:
        counts: ``{statement: {vote value: n}}`` with values 1 = agree, -1 = disagree,
            0 = pass (a missing value counts 0) — the rows of ``GROUP BY statement, value``.
            Every voter counts once per statement (their latest vote).
        group_counts: optionally ``{statement: {group: {vote value: n}}}`` for voters
            placed in an opinion group (voters without a group are simply absent).

    Returns:
        One tally per statement of ``counts``, in its order.

    Raises:
        ValidationError: an unknown vote value, a negative or non-integer count, a
            statement in ``group_counts`` that is not in ``counts``, or group counts that
            add up to more than the statement's own counts.
    """
    if group_counts is not None:
        strangers = [key for key in group_counts if key not in counts]
        if strangers:
            raise ValidationError(
                f"statement(s) {strangers!r} have group counts but no counts",
                field="group_counts",
            )
    tallies: list[StatementTally[K, G]] = []
    for statement, by_value in counts.items():
        agree, disagree, passed = _vote_counts(by_value, f"counts[{statement!r}]")
        votes = agree + disagree + passed
        shares: dict[G, float] = {}
        sums = [0, 0, 0]
        groups = group_counts.get(statement, {}) if group_counts is not None else {}
        for group, group_by_value in groups.items():
            group_votes = _vote_counts(group_by_value, f"group_counts[{statement!r}][{group!r}]")
            sums = [a + b for a, b in zip(sums, group_votes, strict=True)]
            if sum(group_votes):
                shares[group] = group_votes[0] / sum(group_votes)
        if any(s > t for s, t in zip(sums, (agree, disagree, passed), strict=True)):
            raise ValidationError(
                f"statement {statement!r}: group counts {sums} exceed the counts "
                f"{[agree, disagree, passed]} (agree, disagree, pass)",
                field="group_counts",
            )
        tallies.append(
            StatementTally(
                statement=statement,
                agree=agree,
                disagree=disagree,
                passed=passed,
                votes=votes,
                agree_share=_share(agree, votes),
                disagree_share=_share(disagree, votes),
                pass_share=_share(passed, votes),
                group_agree_shares=MappingProxyType(shares),
                consensus=min(shares.values()) if shares else None,
            )
        )
    return AgreeDisagreeResult(tuple(tallies))
