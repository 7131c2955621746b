"""The shared error messages: suggestions and values quoted in them stay short whatever the value."""

from cnnlab.errors import short_repr, suggest, unknown_name


def nested_aliases(depth: int = 9) -> list:
    """What a few hundred bytes of YAML aliases load as: 9**depth leaves through shared lists (str() of it would
    be gigabytes)."""
    value: list = ["x"] * 9
    for _ in range(depth - 1):
        value = [value] * 9
    return value


def test_suggestions_compare_only_short_strings():
    assert suggest("relu6", ["relu", "tanh"]) == "did you mean 'relu'?"
    assert suggest(nested_aliases(), ["relu", "tanh"]) == "choose one of: relu, tanh"
    assert suggest("relu" + "x" * 200, ["relu", "tanh"]) == "choose one of: relu, tanh"
    assert suggest(3, ["relu", "tanh"]) == "choose one of: relu, tanh"


def test_quoted_values_are_bounded():
    assert short_repr("relu") == "'relu'" and short_repr([1, 2.5, None]) == "[1, 2.5, None]"
    assert short_repr({"a": [1, [2, [3]]]}) == "{'a': [1, [...]]}"
    text = str(unknown_name("activation", nested_aliases(), ["relu", "tanh"]))
    assert text.startswith("unknown activation [[[...], [...], [...], [...], ...], ") and len(text) < 200
    assert text.endswith("...; choose one of: relu, tanh")
    assert short_repr("x" * 1000) == "'" + "x" * 27 + "..." + "x" * 28 + "'"
