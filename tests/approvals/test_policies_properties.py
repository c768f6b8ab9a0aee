"""Properties of the approval policies over generated decision sequences (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from approvals.policies import ALL, ANY, APPROVED, PENDING, REJECTED, SINGLE, evaluate

# Derandomized: the suite explores the same examples on every run, so CI never flakes on a new one.
EXAMPLES = settings(max_examples=200, deadline=None, derandomize=True)
PEOPLE = ["ann", "bob", "cat", "dan", "eve"]


@st.composite
def cases(draw):
    """Eligible approvers and decisions by distinct eligible people, oldest first."""
    eligible = draw(st.sets(st.sampled_from(PEOPLE), min_size=1))
    deciders = draw(st.permutations(sorted(eligible)))[: draw(st.integers(0, len(eligible)))]
    decisions = [(person, draw(st.sampled_from([APPROVED, REJECTED]))) for person in deciders]
    required = draw(st.none() | st.integers(1, len(eligible)))
    return eligible, decisions, required


@EXAMPLES
@given(cases(), st.sampled_from([SINGLE, ANY, ALL]))
def test_no_decision_is_pending_and_every_outcome_is_known(case, policy):
    eligible, decisions, required = case
    assert evaluate(policy, [], eligible=eligible, required=required) == PENDING
    assert evaluate(policy, decisions, eligible=eligible, required=required) in (APPROVED, REJECTED, PENDING)


def outcomes(policy, case) -> list[str]:
    """The outcome after each decision in turn, from none to all."""
    eligible, decisions, required = case
    return [evaluate(policy, decisions[:n], eligible=eligible, required=required) for n in range(len(decisions) + 1)]


@EXAMPLES
@given(cases(), st.sampled_from([SINGLE, ANY]))
def test_single_and_any_never_change_a_final_outcome(case, policy):
    seen = outcomes(policy, case)
    finals = [o for o in seen if o != PENDING]
    assert finals == finals[:1] * len(finals)


@EXAMPLES
@given(cases(), st.sampled_from([ANY, ALL]))
def test_a_rejection_is_never_undone_by_later_decisions(case, policy):
    seen = outcomes(policy, case)
    if REJECTED in seen:
        assert set(seen[seen.index(REJECTED) :]) == {REJECTED}


@EXAMPLES
@given(cases())
def test_single_is_the_first_decision(case):
    eligible, decisions, _ = case
    assert evaluate(SINGLE, decisions, eligible=eligible) == (decisions[0][1] if decisions else PENDING)


@EXAMPLES
@given(cases(), st.randoms())
def test_any_and_all_do_not_depend_on_the_order_of_decisions(case, rnd):
    eligible, decisions, required = case
    shuffled = list(decisions)
    rnd.shuffle(shuffled)
    for policy in (ANY, ALL):
        assert evaluate(policy, shuffled, eligible=eligible, required=required) == evaluate(
            policy, decisions, eligible=eligible, required=required
        )


@EXAMPLES
@given(cases())
def test_any_approves_on_one_approval_and_rejects_only_when_everyone_rejected(case):
    eligible, decisions, _ = case
    approvals = {p for p, d in decisions if d == APPROVED}
    rejections = {p for p, d in decisions if d == REJECTED}
    expected = APPROVED if approvals else REJECTED if rejections >= eligible else PENDING
    assert evaluate(ANY, decisions, eligible=eligible) == expected


@EXAMPLES
@given(cases())
def test_all_rejects_on_one_rejection_and_approves_at_the_required_count(case):
    eligible, decisions, required = case
    approvals = {p for p, d in decisions if d == APPROVED}
    if any(d == REJECTED for _, d in decisions):
        expected = REJECTED
    else:
        expected = APPROVED if len(approvals) >= (required or len(eligible)) else PENDING
    assert evaluate(ALL, decisions, eligible=eligible, required=required) == expected
