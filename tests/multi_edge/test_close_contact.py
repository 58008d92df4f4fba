"""Close-contact estimation under Sedna's module path: footprint ellipses in perspective."""

import importlib

import numpy as np
import pytest


@pytest.fixture
def tracker_cls():
    return importlib.import_module("sedna.algorithms.reid.close_contact_estimation").ContactTracker


def _tracker(cls, target=(100, 60, 140, 180)):
    tracker = cls()
    tracker.prep_homography((240, 320, 3), target)
    return tracker


def test_sedna_module_path_is_the_sedna_lib_module(tracker_cls):
    from sedna_lib.algorithms.reid.close_contact_estimation import ContactTracker

    assert tracker_cls is ContactTracker


def test_the_homography_tilts_the_frame_into_the_ground_trapezoid(tracker_cls):
    tracker = tracker_cls()
    tracker.compute_homography([320, 240])
    h = tracker.get_homography_matrix()

    corners = np.array([[0, 0, 1], [0, 240, 1], [320, 240, 1], [320, 0, 1]], float) @ h.T
    corners = corners[:, :2] / corners[:, 2:]

    np.testing.assert_allclose(corners, [[80, 120], [0, 240], [320, 240], [240, 120]], atol=1e-6)


def test_a_person_beside_the_target_is_in_contact_and_drawn_red(tracker_cls):
    tracker = _tracker(tracker_cls)
    frame = np.zeros((240, 320, 3), np.uint8)

    assert tracker.in_risk_zone(frame, (130, 70, 170, 185)) is True
    assert (frame.reshape(-1, 3) == (255, 0, 0)).all(axis=1).any()
    assert not (frame.reshape(-1, 3) == (0, 255, 0)).all(axis=1).any()


def test_a_person_far_away_is_not_in_contact_and_drawn_green(tracker_cls):
    tracker = _tracker(tracker_cls)
    frame = np.zeros((240, 320, 3), np.uint8)

    assert tracker.in_risk_zone(frame, (260, 20, 300, 60)) is False
    assert (frame.reshape(-1, 3) == (0, 255, 0)).all(axis=1).any()


def test_ellipses_sit_on_the_box_bottom_and_are_at_most_half_as_deep_as_wide(tracker_cls):
    tracker = _tracker(tracker_cls)

    boxes, ellipses = tracker.create_ellipse([(100, 60, 140, 180)])

    cx, cy, a, b = ellipses[0]
    assert (cx, cy, a) == (120, 180, 40) and 0 < b <= 20
    assert boxes[0] == (80, 160, 180 - b, 180 + b)


def test_in_risk_zone_before_the_target_is_known_is_a_value_error(tracker_cls):
    with pytest.raises(ValueError, match="prep_homography"):
        tracker_cls().in_risk_zone(np.zeros((10, 10, 3), np.uint8), (1, 1, 2, 2))


@pytest.mark.parametrize("candidate", [(370, 0, 470, 40), (400, 0, 500, 40)])
def test_footprints_that_overlap_are_in_contact_wherever_they_stand(tracker_cls, candidate):
    # the coarse rectangle test read the boxes (left, right, top, bottom) as (x, y, a, b): near the top of
    # the frame it called these apart although their ellipses share pixels
    from sedna_lib.algorithms.reid.close_contact_estimation import _ellipse_value

    shape = (480, 640, 3)
    tracker = tracker_cls()
    tracker.prep_homography(shape, (300, 0, 400, 40))
    _, (ellipse,) = tracker.create_ellipse([candidate])
    overlap = np.any((_ellipse_value(shape[:2], tracker.ellipse_target) <= 1)
                     & (_ellipse_value(shape[:2], ellipse) <= 1))
    assert overlap and tracker.in_risk_zone(np.zeros(shape, np.uint8), candidate)
