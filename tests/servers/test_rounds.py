"""The aggregation server's round policies, alone: which updates count and when a round closes."""

import numpy as np
import pytest

from sedna_lib.base import ClientUpdate
from sedna_lib.context import Context
from sedna_lib.exceptions import AggregationError
from sedna_lib.registry import Kind
from sedna_lib.servers.rounds import BufferedRounds, SynchronousRounds, round_policy


def _aggregator(name, **params):
    return Context().registry.create(Kind.AGGREGATION, name, **params)


def _update(cid, value, n=1, names=None):
    return ClientUpdate([np.full(3, float(value))], n, cid, {}, names)


def test_the_aggregator_picks_its_policy():
    assert type(round_policy(_aggregator("FedAvg"))) is SynchronousRounds
    assert type(round_policy(_aggregator("FedBuff"))) is BufferedRounds


def test_a_synchronous_round_closes_on_quorum_and_returns_the_fedavg_model():
    rounds = SynchronousRounds(_aggregator("FedAvg"), participants=2)
    rounds.begin(None)

    first = rounds.offer(_update("a", 1.0, n=1), 1, None)
    second = rounds.offer(_update("b", 4.0, n=3), 1, None)
    result = rounds.close()

    assert (first.accepted, first.opened, first.close) == (True, True, None)
    assert (second.accepted, second.opened, second.close) == (True, False, "quorum")
    assert result.round_number == 1 and result.total_sample == 4 and result.clients == ["a", "b"]
    np.testing.assert_allclose(result.weights[0], np.full(3, 3.25))
    assert rounds.submitted_ == []


def test_a_synchronous_round_drops_other_rounds_and_second_updates():
    rounds = SynchronousRounds(_aggregator("FedAvg"), participants=3)
    rounds.begin(None)

    assert rounds.offer(_update("a", 1.0), 1, None).accepted
    assert not rounds.offer(_update("a", 2.0), 1, None).accepted
    assert not rounds.offer(_update("b", 2.0), 2, None).accepted
    assert rounds.submitted_ == ["a"]


def test_a_departed_contributor_is_not_waited_for_and_a_deadline_needs_min_clients():
    rounds = SynchronousRounds(_aggregator("FedAvg"), participants=3, min_clients=2)
    rounds.begin(None)
    rounds.offer(_update("a", 1.0), None, None)
    rounds.offer(_update("b", 1.0), None, None)
    rounds.offer(_update("c", 1.0), None, None)
    rounds.close()
    rounds.begin(None)
    rounds.offer(_update("a", 1.0), None, None)

    assert rounds.deadline().close is None  # 1 < min_clients
    assert rounds.leave("stranger").close is None
    assert rounds.leave("c").close is None  # a, c gone: 1 + 1 < 3
    rounds.offer(_update("b", 1.0), None, None)
    assert rounds.complete() == "dropout"
    assert rounds.deadline().close == "deadline"
    rounds.rejoin("c")
    assert rounds.complete() is None


def test_buffered_rounds_add_staleness_weighted_changes_and_answer_each_sender():
    agg = _aggregator("FedBuff", buffer_size=2, staleness_exponent=0.5)
    rounds = BufferedRounds(agg, participants=2)
    start = [np.zeros(3)]
    rounds.begin(start)

    with pytest.raises(AggregationError, match="initial model"):
        BufferedRounds(_aggregator("FedBuff")).offer(_update("a", 1.0), None, None)
    first = rounds.offer(_update("a", 2.0), 1, start)
    second = rounds.offer(_update("b", 4.0), 1, start)
    result = rounds.close()
    rounds.begin(result.weights)
    stale = rounds.offer(_update("c", result.weights[0][0] + 9.0), 1, result.weights)

    assert (first.accepted, first.reply, first.close) == (True, True, None)
    assert (second.accepted, second.reply, second.close) == (True, False, "buffer")
    np.testing.assert_allclose(result.weights[0], np.full(3, 3.0))
    assert stale.accepted and agg._staleness == 1.0  # trained from version 0, now at 1


def test_no_policy_writes_onto_the_aggregator():
    agg = _aggregator("FedAvg")
    rounds = SynchronousRounds(agg, participants=1)
    rounds.begin(None)
    before = set(vars(agg))

    rounds.offer(_update("a", 1.0, names=["w"]), 1, None)
    rounds.close()

    assert getattr(agg, "names_", None) is None
    learned = {k for k in set(vars(agg)) - before if not k.startswith("_")}
    assert learned <= {"global_weights_", "total_samples_", "round_"}
