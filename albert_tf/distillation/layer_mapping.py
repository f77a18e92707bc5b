"""Which teacher layer each student layer imitates (TinyBERT's mapping function).

Depths are counted as in TinyBERT: 0 is the embedding output (after the
E -> H projection, i.e. what enters the first transformer layer) and
`1..L` are the outputs of the transformer depths. With `inner_group_num > 1`
a depth is the output of all its inner layers.
"""

from __future__ import annotations

from collections.abc import Mapping


def uniform_layer_mapping(student_layers: int, teacher_layers: int,
                          include_embeddings: bool = True) -> dict[int, int]:
    """TinyBERT's uniform strategy: student depth `m` -> teacher depth `m * L_t / L_s`.

    Rounded down when `L_t` is not a multiple of `L_s`, so the last student
    depth always maps to the last teacher depth; a student deeper than its
    teacher maps several depths onto one (never a transformer depth onto the
    embeddings).

    Args:
        student_layers: the student's `num_hidden_layers` (L_s >= 1).
        teacher_layers: the teacher's `num_hidden_layers` (L_t >= 1).
        include_embeddings: also map the embedding outputs (0 -> 0).

    Returns:
        `{student_depth: teacher_depth}`.

    Example:
    >>> uniform_layer_mapping(3, 12)
    {0: 0, 1: 4, 2: 8, 3: 12}
    """
    for name, value in (("student_layers", student_layers), ("teacher_layers", teacher_layers)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive int (num_hidden_layers). Received: {name}={value!r}")
    mapping = {0: 0} if include_embeddings else {}
    for depth in range(1, student_layers + 1):
        mapping[depth] = max(1, depth * teacher_layers // student_layers)
    return mapping


def validate_layer_mapping(layer_mapping: Mapping[int, int], student_layers: int,
                           teacher_layers: int) -> dict[int, int]:
    """Checks a `{student_depth: teacher_depth}` mapping and returns it as a sorted dict.

    Raises:
        ValueError: when it is empty, a key or value is not an int, or a depth
            is outside `0..num_hidden_layers` of its model.
    """
    if not isinstance(layer_mapping, Mapping) or not layer_mapping:
        raise ValueError(
            "`layer_mapping` must be a non-empty {student_depth: teacher_depth} dict (0 = embeddings, "
            f"1..num_hidden_layers = transformer depths), or None for the uniform mapping. Received: {layer_mapping!r}"
        )
    checked = {}
    for student_depth, teacher_depth in sorted(layer_mapping.items()):
        for role, depth, limit in (("student", student_depth, student_layers),
                                   ("teacher", teacher_depth, teacher_layers)):
            if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= limit:
                raise ValueError(
                    f"`layer_mapping` {role} depth must be an int in 0..{limit} (0 = embeddings, {limit} = "
                    f"the {role}'s num_hidden_layers). Received: {student_depth!r} -> {teacher_depth!r}"
                )
        checked[student_depth] = teacher_depth
    return checked
