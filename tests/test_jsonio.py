"""jaju.jsonio reads request bodies and upstream answers exactly as `json` does (orjson where it
agrees), and writes what `json` would read back to the same values."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaju import jsonio

values = st.recursive(
    st.none() | st.booleans() | st.text() | st.floats(allow_nan=False)
    | st.integers(min_value=-(2**80), max_value=2**80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values)
def test_reads_what_json_writes_exactly_as_json_reads_it(value):
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        for raw in (text, text.encode()):
            got = jsonio.loads(raw)
            assert got == json.loads(raw)
            assert repr(got) == repr(json.loads(raw))  # an integer stays an integer


@settings(max_examples=300, deadline=None)
@given(values)
def test_writes_what_json_reads_back_to_the_same_values(value):
    finite = json.loads(json.dumps(value).replace("Infinity", "1e308"))  # inf: below
    assert json.loads(jsonio.dumps(finite)) == finite


@pytest.mark.parametrize("raw", [
    b'{"n": 123456789012345678901234567890}',  # past 64 bits: orjson would make it a float
    b'{"x": NaN, "y": -Infinity}',             # json reads these; orjson refuses them
    b'{"s": "\\ud800"}',                       # a lone surrogate escape
    '{"s": "한국어"}'.encode("utf-16"),         # json detects UTF-16; orjson refuses it
    b'{"a": 1, "a": 2}',                       # the last duplicate wins, in both
])
def test_what_orjson_reads_differently_or_refuses_is_read_by_json(raw):
    got, want = jsonio.loads(raw), json.loads(raw)
    assert repr(got) == repr(want) or (  # NaN != NaN: compare the finite parts
        all(math.isnan(v) or v == want[k] for k, v in got.items()))


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": }', b"\xff\xfe\x00", b"[1, 2,]"])
def test_what_is_not_json_is_a_value_error_as_with_json(raw):
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        jsonio.loads(raw)


def test_writes_compact_utf8_and_what_orjson_refuses():
    assert jsonio.dumps({"a": "한", "b": [1, 2]}) == '{"a":"한","b":[1,2]}'.encode()
    assert json.loads(jsonio.dumps({"n": 2**70})) == {"n": 2**70}  # orjson refuses > 64 bits
    assert json.loads(jsonio.dumps({1: "x"})) == {"1": "x"}         # a key that is not a string
    # NaN and infinities have no JSON form: null, so that clients can always parse the answer
    assert jsonio.dumps([math.nan, math.inf, -math.inf]) == b"[null,null,null]"
