"""`albert summary`: build configurations and report their sizes."""

from __future__ import annotations

import argparse

from albert_tf.presets import PRESETS

# Paper Table 1 figures and the exact counts of the reference implementations
# (Hugging Face `AlbertModel`, pooler included), for the side-by-side column.
REFERENCE_PARAMETERS = {
    "base": 11_683_584,
    "large": 17_683_968,
    "xlarge": 58_724_864,
    "xxlarge": 222_595_584,
}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "summary",
        help="build ALBERT configurations and print their shapes and parameter counts",
        description=(
            "Builds each configuration as an AlbertBackbone and prints its shape and the parameter "
            "count measured on the built model. With no arguments: every bundled preset."
        ),
    )
    parser.add_argument(
        "configs", nargs="*", metavar="CONFIG",
        help=f"preset names ({', '.join(PRESETS)}) or paths to config JSON files "
             "(albert_tf, google-research albert_config.json or Hugging Face config.json)",
    )
    parser.add_argument("--layers", action="store_true", help="also print the Keras layer-by-layer summary")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_tf.backbone import AlbertBackbone
    from albert_tf.presets import load_config

    names = args.configs or list(PRESETS)
    header = f"{'config':<28} {'L':>3} {'G':>2} {'H':>5} {'E':>4} {'heads':>5} {'FFN':>6} {'V':>6} {'parameters':>13} {'reference':>13}"
    print(header)
    print("-" * len(header))
    for name in names:
        short = name.removeprefix("albert_")
        config = load_config(name)
        backbone = AlbertBackbone(config)
        count = backbone.count_params()
        reference = REFERENCE_PARAMETERS.get(short)
        reference_text = f"{reference:,}" if reference else "-"
        print(
            f"{name:<28} {config.num_hidden_layers:>3} {config.num_hidden_groups:>2} {config.hidden_size:>5} "
            f"{config.embedding_size:>4} {config.num_attention_heads:>5} {config.intermediate_size:>6} "
            f"{config.vocab_size:>6} {count:>13,} {reference_text:>13}"
        )
        if args.layers:
            backbone.summary()
        del backbone
    return 0
