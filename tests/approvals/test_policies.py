"""Every row of the approval policies, without a database."""

import pytest

from approvals.policies import evaluate, required_approvals

A, R = "approved", "rejected"
EVERYONE = {"bob", "carol", "dave"}


@pytest.mark.parametrize(
    "decisions, expected",
    [
        ([], "pending"),
        ([("bob", A)], "approved"),
        ([("bob", R)], "rejected"),
        ([("bob", R), ("carol", A)], "rejected"),
        ([("bob", A), ("carol", R)], "approved"),
    ],
)
def test_single_first_decision_wins(decisions, expected):
    assert evaluate("single", decisions, eligible=EVERYONE) == expected


@pytest.mark.parametrize(
    "decisions, expected",
    [
        ([], "pending"),
        ([("bob", A)], "approved"),
        ([("bob", R)], "pending"),
        ([("bob", R), ("carol", R)], "pending"),
        ([("bob", R), ("carol", A)], "approved"),
        ([("bob", R), ("carol", R), ("dave", R)], "rejected"),
    ],
)
def test_any_first_approval_wins_and_rejects_only_when_everyone_rejected(decisions, expected):
    assert evaluate("any", decisions, eligible=EVERYONE) == expected


def test_any_counts_only_eligible_rejecters():
    # A rejection from somebody who is no longer eligible does not stand for an eligible one.
    assert evaluate("any", [("zed", R), ("bob", R), ("carol", R)], eligible=EVERYONE) == "pending"


def test_any_with_no_eligible_approver_stays_pending():
    assert evaluate("any", [], eligible=set()) == "pending"


@pytest.mark.parametrize(
    "decisions, required, expected",
    [
        ([], None, "pending"),
        ([("bob", A)], None, "pending"),
        ([("bob", A), ("carol", A)], None, "pending"),
        ([("bob", A), ("carol", A), ("dave", A)], None, "approved"),
        ([("bob", A), ("carol", R)], None, "rejected"),
        ([("bob", R)], None, "rejected"),
        ([("bob", A), ("carol", A)], 2, "approved"),
        ([("bob", A)], 2, "pending"),
        ([("bob", A)], 1, "approved"),
        ([("bob", R), ("carol", A)], 1, "rejected"),
        ([("bob", A), ("carol", R)], 2, "rejected"),
    ],
)
def test_all_any_rejection_rejects_and_required_approvals_approve(decisions, required, expected):
    # The service asks after every decision and stops at the first settled answer, so a
    # list holding a rejection after the required approvals never reaches the policy.
    assert evaluate("all", decisions, eligible=EVERYONE, required=required) == expected


def test_required_approvals_defaults():
    assert required_approvals("single", required=5, eligible=EVERYONE) == 1
    assert required_approvals("any", required=None, eligible=EVERYONE) == 1
    assert required_approvals("all", required=None, eligible=EVERYONE) == 3
    assert required_approvals("all", required=2, eligible=EVERYONE) == 2
    assert required_approvals("all", required=None, eligible=set()) == 1


def test_unknown_type_or_decision_is_refused():
    with pytest.raises(ValueError):
        evaluate("most", [], eligible=EVERYONE)
    with pytest.raises(ValueError):
        evaluate("single", [("bob", "maybe")], eligible=EVERYONE)
