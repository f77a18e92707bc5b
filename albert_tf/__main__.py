"""`python -m albert_tf`: the `albert` command, for when its script is not on PATH."""

import sys

from albert_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
