"""The page cursors both search services hand out (medcode_common.cursors)."""

from __future__ import annotations

import pytest

from medcode_common.cursors import decode_position, encode_position


def test_a_position_round_trips_under_its_tag_only():
    cursor = encode_position("v1", 40)
    assert "=" not in cursor and decode_position("v1", cursor) == 40
    assert decode_position("jobs1", cursor) is None


@pytest.mark.parametrize("cursor", ["", "!!", "nope", encode_position("v1", 3)[:-2] + "!!", "djE6LTE"])
def test_malformed_cursors_hold_no_position(cursor):
    assert decode_position("v1", cursor) is None


def test_max_digits_bounds_the_number():
    long = encode_position("jobs1", 10**9)
    assert decode_position("jobs1", long) == 10**9
    assert decode_position("jobs1", long, max_digits=9) is None
    assert decode_position("jobs1", encode_position("jobs1", 10**9 - 1), max_digits=9) == 10**9 - 1
