"""Identify mode's ranking: simple vectors, then properties over any readings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.commissioning.identify import NOISE_FLOOR_C, Sightings, movement, rank


def series(values: list[float], step: float = 10.0) -> list[tuple[float, float]]:
    return [(index * step, value) for index, value in enumerate(values)]


def test_the_warmed_probe_ranks_first() -> None:
    ranking = rank(
        {
            "steady": series([4.0, 4.1, 4.0, 4.1, 4.0, 4.1]),
            "warmed": series([4.0, 4.6, 5.3, 6.1, 6.8, 7.5]),
            "noisy": series([4.0, 5.5, 3.0, 5.0, 3.5, 5.2]),
        }
    )
    warmed, *others = ranking
    assert warmed.key == "warmed"
    assert warmed.rise_c is not None
    assert 3.3 < warmed.rise_c < 3.7
    assert warmed.rate_c_per_min is not None
    assert 4.0 < warmed.rate_c_per_min < 4.5
    assert warmed.score is not None
    assert all(other.score is not None and other.score < warmed.score / 10 for other in others)


def test_a_large_noisy_wobble_loses_to_a_small_clean_rise() -> None:
    ranking = rank(
        {
            "wobble": series([4.0, 6.0, 3.0, 7.0, 2.0, 7.5]),
            "clean": series([4.0, 4.2, 4.4, 4.6, 4.8, 5.0]),
        }
    )
    assert ranking[0].key == "clean"


def test_a_cooling_probe_scores_below_a_steady_one() -> None:
    ranking = rank({"cooling": series([8.0, 7.0, 6.0, 5.0]), "steady": series([4.0] * 4)})
    assert [move.key for move in ranking] == ["steady", "cooling"]
    assert ranking[1].score is not None
    assert ranking[1].score < 0


def test_too_few_readings_rank_last_without_a_score() -> None:
    ranking = rank({"two": series([4.0, 9.0]), "three": series([4.0, 4.0, 4.0])})
    assert [move.key for move in ranking] == ["three", "two"]
    assert ranking[1].score is None
    assert ranking[1].points == 2


def test_readings_at_one_instant_have_no_score() -> None:
    assert movement("same", [(5.0, 4.0), (5.0, 5.0), (5.0, 6.0)]).score is None


def test_sightings_keep_recent_points_and_when_seen() -> None:
    sightings = Sightings(size=3)
    for at in range(5):
        sightings.saw("modbus:a:1:0", float(at), 4.0 + at)
    sightings.saw("serial:/dev/x", 9.0)
    assert sightings.since(3.0) == {"modbus:a:1:0": [(3.0, 7.0), (4.0, 8.0)]}
    assert sightings.seen_at("serial:/dev/x") == 9.0
    assert sightings.seen_at("ble:00:00:00:00:00:00") is None


temperatures = st.lists(
    st.floats(min_value=-30, max_value=30, allow_nan=False), min_size=3, max_size=30
)


@given(temperatures, st.floats(min_value=-20, max_value=20, allow_nan=False))
def test_an_offset_does_not_change_the_score(values: list[float], offset: float) -> None:
    plain = movement("p", series(values))
    shifted = movement("p", series([value + offset for value in values]))
    assert plain.score is not None
    assert shifted.score is not None
    assert abs(plain.score - shifted.score) <= 1e-3 * max(1.0, abs(plain.score))


@given(temperatures, st.floats(min_value=0.01, max_value=1.0))
def test_adding_a_rise_never_lowers_the_score(values: list[float], slope: float) -> None:
    plain = movement("p", series(values))
    rising = movement("p", series([value + slope * index for index, value in enumerate(values)]))
    assert plain.score is not None
    assert rising.score is not None
    assert rising.score >= plain.score - 1e-2


@given(st.dictionaries(st.text(min_size=1, max_size=5), temperatures, max_size=6))
def test_the_ranking_lists_every_probe_once_in_score_order(
    probes: dict[str, list[float]],
) -> None:
    ranking = rank({key: series(values) for key, values in probes.items()})
    assert sorted(move.key for move in ranking) == sorted(probes)
    scores = [move.score for move in ranking if move.score is not None]
    assert scores == sorted(scores, reverse=True)


@given(temperatures)
def test_noise_is_floored_at_the_resolution(values: list[float]) -> None:
    move = movement("p", series(values))
    assert move.score is not None
    assert move.rise_c is not None
    assert abs(move.score) <= abs(move.rise_c) / NOISE_FLOOR_C + 1e-2
