"""Close-contact estimation: is a person standing within the target's ground ellipse, seen in perspective.

Each person's footprint is an ellipse on the ground under their bounding box: as wide as the box,
and as deep as the box's vertical extent after a homography that tilts the image plane into a
trapezoid (far rows shrink). Two people are in close contact when their footprint ellipses
overlap. Everything is computed with numpy (no OpenCV needed).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sedna_lib.base import check_number

__all__ = ["ContactTracker"]

_RED = (255, 0, 0)
_GREEN = (0, 255, 0)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Solve the 3x3 projective map that sends the four ``src`` points onto ``dst`` (h33 = 1)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src.astype(float), dst.astype(float)):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    h = np.linalg.solve(np.asarray(rows), np.asarray(rhs))
    return np.append(h, 1.0).reshape(3, 3)


def _ratio(name: str, value: Any) -> float:
    """Return a perspective ratio checked to lie in [0, 1) (at 1 the ground's far edge collapses)."""
    return check_number(name, 0.5 if value is None else value, 0, 1, high_open=True)


def _ellipse_value(shape: tuple[int, int], ellipse: Sequence[int]) -> np.ndarray:
    """``((x - cx) / a)**2 + ((y - cy) / b)**2`` over an image grid of ``shape`` (rows, columns)."""
    cx, cy, a, b = (float(v) for v in ellipse)
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    return ((cols - cx) / max(abs(a), 0.5)) ** 2 + ((rows - cy) / max(abs(b), 0.5)) ** 2


class ContactTracker:
    """Decide, frame by frame, which people stand close to an identified target.

    Call :meth:`prep_homography` once with the frame size and the target's box, then
    :meth:`in_risk_zone` for each other person's box in a frame where the target was found.

    Parameters
    ----------
    draw_top_view : bool, default=False
        Kept for Sedna's signature (no top view is drawn).

    Attributes
    ----------
    homography_matrix : numpy.ndarray of shape (3, 3) or None
        The perspective map, once computed.
    target_map : numpy.ndarray or None
        Mask of the target's footprint ellipse (255 inside).
    ellipse_target, ellipse_bbox_target : list or tuple, or None
        The target's ellipse ``[cx, cy, a, b]`` and its bounding box ``(left, right, top, bottom)``.
    distance_threshold : float
        1.8 (metres), as Sedna's.
    """

    def __init__(self, draw_top_view: bool = False) -> None:
        self.draw_top_view = draw_top_view
        self.bbox_target: Any = None
        self.h_ratio: float | None = None
        self.v_ratio: float | None = None
        self.homography_matrix: np.ndarray | None = None
        self.target_map: np.ndarray | None = None
        self.ellipse_bbox_target: Any = None
        self.ellipse_target: Any = None
        self.CTV_L: dict = {}  # noqa: N815 (Sedna's name)
        self.distance_threshold = 1.8
        self.top_view_exists = False

    def prep_homography(self, img_shape: Sequence[int], bbox_target: Sequence[float], h_ratio: float = 0.5,
                        v_ratio: float = 0.5) -> None:
        """Set the perspective and the target's footprint for frames of ``img_shape``.

        Parameters
        ----------
        img_shape : sequence of int
            The frame's shape (rows, columns[, channels]).
        bbox_target : sequence of float
            The target's box ``(x0, y0, x1, y1)``.
        h_ratio : float, default=0.5
            How much narrower the far edge of the ground is than the near one, in [0, 1)
            (0: no narrowing).
        v_ratio : float, default=0.5
            How far down the far edge lies, as a share of the frame, in [0, 1).

        Raises
        ------
        ParameterError
            If a ratio is not a finite number in [0, 1), checked before anything is set.
        """
        _ratio("h_ratio", h_ratio)
        _ratio("v_ratio", v_ratio)
        self.h_ratio, self.v_ratio = h_ratio, v_ratio
        self.bbox_target = bbox_target
        if self.homography_matrix is None:
            self.compute_homography(img_shape)
        boxes, ellipses = self.create_ellipse([bbox_target])
        self.ellipse_bbox_target, self.ellipse_target = boxes[0], ellipses[0]
        self.target_map = np.zeros(tuple(img_shape), dtype=np.uint8)
        inside = _ellipse_value(tuple(img_shape[:2]), self.ellipse_target) <= 1.0
        self.target_map[inside] = _RED if self.target_map.ndim == 3 and img_shape[2] == 3 else 255

    def compute_homography(self, img_shape: Sequence[int]) -> None:
        """Compute the map that tilts the frame's rectangle into a ground trapezoid.

        Parameters
        ----------
        img_shape : sequence of int
            ``[size0, size1]``: the first two sizes of the frame, as Sedna reads them.

        Raises
        ------
        ParameterError
            If ``h_ratio`` or ``v_ratio`` is not a finite number in [0, 1).
        """
        h_ratio, v_ratio = _ratio("h_ratio", self.h_ratio), _ratio("v_ratio", self.v_ratio)
        size0, size1 = float(img_shape[0]), float(img_shape[1])
        drop, inset = size1 * v_ratio, size0 * h_ratio / 2
        corners = np.array([[0, 0], [0, size1], [size0, size1], [size0, 0]])
        trapezoid = np.array([[inset, drop], [0, size1], [size0, size1], [size0 - inset, drop]])
        self.homography_matrix = _homography(corners, trapezoid)

    def _project(self, points: np.ndarray) -> np.ndarray:
        ones = np.ones((len(points), 1))
        mapped = np.hstack([points, ones]) @ self.homography_matrix.T
        return mapped[:, :2] / mapped[:, 2:3]

    def create_ellipse(self, bbox_list: Sequence[Sequence[float]]) -> tuple[list, list]:
        """Return each box's footprint ellipse and the ellipse's bounding box.

        Parameters
        ----------
        bbox_list : sequence of (x0, y0, x1, y1)
            The boxes.

        Returns
        -------
        ellipse_bboxes : list of tuple
            ``(cx - a, cx + a, bottom - b, bottom + b)`` per box.
        ellipses : list of list
            ``[cx, bottom, a, b]`` per box: centre on the box's bottom edge, ``a`` the box's width,
            ``b`` its perspective depth (at most ``a / 2``).
        """
        if self.homography_matrix is None:
            raise ValueError("call prep_homography (or compute_homography) before create_ellipse")
        boxes, ellipses = [], []
        for box in bbox_list:
            x0, y0, x1, y1 = (int(v) for v in box[:4])
            a = x1 - x0
            cx = (x0 + x1) // 2
            top, bottom = self._project(np.array([[cx, y0], [cx, y1]], dtype=float))[:, 1]
            b = int(bottom - top)
            if b > 0.5 * a:
                b = int(0.5 * a)
            boxes.append((cx - a, cx + a, y1 - b, y1 + b))
            ellipses.append([int(cx), y1, a, b])
        return boxes, ellipses

    def in_risk_zone(self, img: np.ndarray, bbox_candidate: Sequence[float] | None = None) -> bool:
        """Tell whether the person in ``bbox_candidate`` stands in the target's footprint; draw both.

        The target's ellipse is outlined in red on ``img``, the candidate's in red when in contact,
        else green.

        Parameters
        ----------
        img : numpy.ndarray of shape (rows, columns[, 3])
            The frame (drawn on in place).
        bbox_candidate : sequence of float
            The other person's box ``(x0, y0, x1, y1)``.

        Returns
        -------
        bool
            True when the two footprint ellipses overlap.

        Raises
        ------
        ValueError
            If :meth:`prep_homography` was not called (no target) or no box is given.
        """
        if self.ellipse_target is None or self.target_map is None:
            raise ValueError("call prep_homography with the target's box first")
        if bbox_candidate is None:
            raise ValueError("in_risk_zone needs the candidate's box (x0, y0, x1, y1)")
        if self.homography_matrix is None:
            self.compute_homography([img.shape[0], img.shape[1]])
        boxes, ellipses = self.create_ellipse([bbox_candidate])
        candidate = ellipses[0]
        in_contact = False
        # the coarse test reads (x, y, a, b) descriptors: the boxes are (left, right, top, bottom), which
        # it read as centres and axes, and said apart of ellipses that overlap
        if self.check_bbox_overlap(candidate, self.ellipse_target):
            shape = tuple(img.shape[:2])
            target = self.target_map.reshape(self.target_map.shape[:2] + (-1,))
            target_mask = target[:shape[0], :shape[1], 0] > 0
            in_contact = bool(np.any(target_mask & (_ellipse_value(shape, candidate) <= 1.0)))
        self._outline(img, self.ellipse_target, _RED)
        self._outline(img, candidate, _RED if in_contact else _GREEN)
        return in_contact

    @staticmethod
    def _outline(img: np.ndarray, ellipse: Sequence[int], color: tuple[int, int, int]) -> None:
        value = _ellipse_value(tuple(img.shape[:2]), ellipse)
        scale = max(min(abs(ellipse[2]), abs(ellipse[3])), 1)
        ring = np.abs(np.sqrt(value) - 1.0) * scale <= 1.0  # about two pixels wide
        img[ring] = color if img.ndim == 3 and img.shape[2] == 3 else color[0]

    def check_bbox_overlap(self, ellipse1: Sequence[float], ellipse2: Sequence[float]) -> bool:
        """Tell whether the rectangles of two ``(x, y, a, b)`` descriptors overlap (the coarse test).

        Parameters
        ----------
        ellipse1, ellipse2 : sequence of 4 numbers
            Descriptors read by :meth:`to_rectangle`.

        Returns
        -------
        bool
            False when one rectangle lies wholly on one side of the other.
        """
        r1, r2 = self.to_rectangle(ellipse1), self.to_rectangle(ellipse2)
        apart = r1[0] >= r2[2] or r1[2] <= r2[0] or r1[3] <= r2[1] or r1[1] >= r2[3]
        return not apart

    @staticmethod
    def to_rectangle(ellipse: Sequence[float]) -> tuple:
        """Return the rectangle ``(x - a, y - b, x + a, y + b)`` of a descriptor ``(x, y, a, b)``.

        Parameters
        ----------
        ellipse : sequence of 4 numbers
            ``(x, y, a, b)``.

        Returns
        -------
        tuple
            ``(left, top, right, bottom)``.
        """
        x, y, a, b = ellipse
        return (x - a, y - b, x + a, y + b)

    def get_homography_matrix(self) -> np.ndarray | None:
        """Return the perspective map (None before it is computed).

        Returns
        -------
        numpy.ndarray of shape (3, 3) or None
            The homography.
        """
        return self.homography_matrix
