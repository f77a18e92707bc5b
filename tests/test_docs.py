"""The docs cannot rot: every shell command in README.md and docs/*.md is checked.

Each fenced ```bash block is split into commands (backslash continuations
joined, comments dropped, `&&` and `;` split, `NAME=value` assignments
expanded). Then, by command:

- `albert ...` / `python -m albert_tf ...`: parses with the real parser
  (`albert_tf.cli.main.build_parser`), so a renamed or removed flag fails here;
  the cheap ones (`albert summary`, `albert train-spm`) also run for real at
  reduced size.
- `python FILE.py ...`, `bash FILE`, `python -m pytest PATHS`, `cd DIR`: the files exist.
- `pip install -e ".[EXTRA]"`: every extra is declared in setup.cfg.
- any argument naming a path inside the repository (benchmarks/..., configs/...)
  or the shared data (../shared/data/...): it exists.
A command of any other kind fails the test until a check for it is added here.
"""

from __future__ import annotations

import configparser
import os
import pathlib
import re
import shlex

import pytest

from albert_tf.cli.main import build_parser, main

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Top-level folders of the repository: an argument starting with one names a repository file.
REPO_DIRS = ("albert_tf/", "export/", "configs/", "benchmarks/", "tests/", "docs/", "android_demo/")
SHARED = "../shared/data/"
_FENCE = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _commands(page: pathlib.Path) -> list[tuple[str, list[str]]]:
    """(block text, argv) for every command of every ```bash block, variables expanded."""
    found = []
    for block in _FENCE.findall(page.read_text(encoding="utf-8")):
        variables: dict[str, str] = {}
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            argv_all = shlex.split(line, comments=True)
            command: list[str] = []
            for token in [*argv_all, "&&"]:
                if token not in ("&&", ";"):
                    command.append(token)
                    continue
                if not command:
                    continue
                assignment = _ASSIGNMENT.match(command[0])
                if len(command) == 1 and assignment:
                    variables[assignment.group(1)] = _expand(assignment.group(2), variables)
                else:
                    argv = []
                    for word in command:
                        # An unquoted $C holding several options splits into words, as in a shell.
                        expanded = _expand(word, variables)
                        argv.extend(expanded.split() if word.startswith("$") else [expanded])
                    found.append((line.strip(), argv))
                command = []
    return found


def _expand(word: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: variables.get(m.group(1), m.group(0)), word)


ALL_COMMANDS = [(page.relative_to(ROOT).as_posix(), line, argv) for page in PAGES for line, argv in _commands(page)]


def _declared_extras() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return set(config["options.extras_require"])


def _check_paths(argv: list[str], cwd: pathlib.Path) -> None:
    for word in argv:
        value = word.split("=", 1)[1] if word.startswith("--") and "=" in word else word
        if value.startswith(REPO_DIRS):
            assert (cwd / value).exists(), f"{value} does not exist in the repository"
        if value.startswith(SHARED) and (ROOT / SHARED).is_dir():
            assert (ROOT / value).exists(), f"{value} does not exist in the shared data"


def _parse_albert(args: list[str]) -> None:
    try:
        build_parser().parse_args(args)
    except SystemExit as exit_:
        # --help and --version exit 0; a parse error exits 2.
        assert exit_.code == 0, f"`albert {shlex.join(args)}` does not parse (exit {exit_.code})"


def test_the_docs_show_commands():
    """The extraction itself works: a docs page that lost its ```bash fences would pass vacuously."""
    albert = [argv for _, _, argv in ALL_COMMANDS if argv[0] == "albert"]
    assert len(albert) >= 10
    subcommands = {argv[1] for argv in albert}
    assert {"demo", "pretrain", "finetune", "convert", "export", "distill", "create-data", "train-spm"} <= subcommands


@pytest.mark.parametrize("page,line,argv", ALL_COMMANDS, ids=[f"{p}:{' '.join(a[:2])}" for p, _, a in ALL_COMMANDS])
def test_docs_command_is_valid(page, line, argv):
    cwd = ROOT
    while len(argv) > 1 and _ASSIGNMENT.match(argv[0]):  # NAME=value before a command: its environment
        argv = argv[1:]
    program, args = argv[0], argv[1:]
    if program == "cd":
        assert (ROOT / args[0]).is_dir(), f"{page}: `cd {args[0]}`: no such folder"
        return
    if program in ("python", "python3") and args[:2] == ["-m", "albert_tf"]:
        program, args = "albert", args[2:]
    if program == "albert":
        _parse_albert(args)
    elif program in ("python", "python3") and args[:2] == ["-m", "venv"]:
        pass
    elif program in ("python", "python3") and args[:2] == ["-m", "pytest"]:
        for word in args[2:]:
            if not word.startswith("-") and word != "slow" and "::" not in word:
                assert (ROOT / word).exists(), f"{page}: {word} does not exist"
    elif program in ("python", "python3"):
        assert args and args[0].endswith(".py"), f"{page}: unchecked python command {line!r}"
        assert (ROOT / args[0]).is_file(), f"{page}: {args[0]} does not exist"
    elif program in (".", "source"):
        assert args == [".venv/bin/activate"], f"{page}: unexpected activation {line!r}"
    elif program == "pip":
        assert args[:2] == ["install", "-e"], f"{page}: unchecked pip command {line!r}"
        extras = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", args[2])
        assert extras, f"{page}: installs {args[2]!r}, not the repository"
        if extras.group(1):
            missing = set(extras.group(1).split(",")) - _declared_extras()
            assert not missing, f"{page}: extras {missing} are not declared in setup.cfg"
    elif program == "bash":
        assert (ROOT / args[0]).is_file(), f"{page}: {args[0]} does not exist"
    elif program == "gradle":
        assert args == ["wrapper"] and (ROOT / "android_demo" / "settings.gradle.kts").is_file()
    elif program == "./gradlew":
        build_script = (ROOT / "android_demo" / "app" / "build.gradle.kts").read_text(encoding="utf-8")
        for word in args:
            if word.startswith("-P"):
                name = word[2:].split("=", 1)[0]
                assert name in build_script, f"{page}: property {name} is not read by the Android build"
        cwd = ROOT / "android_demo"
    else:
        pytest.fail(f"{page}: no check for the command {line!r}; add one to tests/test_docs.py")
    _check_paths(args, cwd)


def _run_at_reduced_size(argv: list[str], workdir: pathlib.Path) -> int:
    """Runs a cheap docs command in `workdir`, with the inputs it names made up small."""
    args = list(argv[1:])
    if args[0] == "train-spm":
        corpus = [a for a in args[1:args.index("--model-prefix")] if not a.startswith("-")]
        words = ["".join("abcdefghijklmnopqrstuvwxyz"[(i * p) % 26] for p in (3, 5, 7, 11)[: 2 + i % 3]) for i in range(300)]
        lines = [" ".join(words[(i * 31 + j * 17) % 300] for j in range(12)) + "." for i in range(600)]
        for name in corpus:
            path = workdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            data = "\n".join(lines).encode()
            if name.endswith(".bz2"):
                import bz2

                data = bz2.compress(data)
            path.write_bytes(data)
        args[args.index("--vocab-size") + 1] = "60"  # reduced size
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        return main(args)
    finally:
        os.chdir(previous)


CHEAP = [argv for _, _, argv in ALL_COMMANDS if argv[0] == "albert" and argv[1] in ("summary", "train-spm")]


@pytest.mark.parametrize("argv", CHEAP, ids=[" ".join(a[:2]) for a in CHEAP])
def test_cheap_docs_command_runs(argv, tmp_path, capsys):
    assert _run_at_reduced_size(argv, tmp_path) == 0
    if argv[1] == "summary":
        assert "11,683,584" in capsys.readouterr().out  # base, the count the docs show
    else:
        prefix = argv[argv.index("--model-prefix") + 1]
        assert (tmp_path / f"{prefix}.model").is_file()


def test_cheap_commands_are_found():
    assert {argv[1] for argv in CHEAP} == {"summary", "train-spm"}
