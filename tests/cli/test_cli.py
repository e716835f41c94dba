"""The crmkit command: the demo runs the pipeline into SQLite; reports; errors and exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import crmkit
from crmkit.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One demo run of 1,500 persons: the database path, stdout and stderr."""
    db = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "crmkit", "demo", "--db", str(db), "--customers", "1500",
         "--seed", "3"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return db, proc.stdout, proc.stderr


def test_demo_report_has_every_step(demo_run: tuple[Path, str, str]) -> None:
    """The report shows each module's section; progress goes to stderr, not the report."""
    _, out, err = demo_run
    for section in (
        "The shop",
        "Revenue by month",
        "Identity: records → people",
        "Customer lifetime value",
        "Segments: RFM",
        "Lifecycle stages",
        "Loyalty: tiers and points",
        "Targeting: a win-back campaign by e-mail",
        "Evaluation: simulated responses",
    ):
        assert section in out, section
    assert "done in" in err and "done in" not in out


def test_demo_store_holds_what_the_report_counts(demo_run: tuple[Path, str, str]) -> None:
    """The SQLite file holds the shop and the state the steps saved back."""
    db, out, _ = demo_run
    with crmkit.connect(f"sqlite:///{db}") as store:
        reported = re.search(r"^orders\s+([\d,]+)$", out, flags=re.M)
        assert reported is not None
        assert store.orders.count() == int(reported.group(1).replace(",", ""))
        selected = re.search(r"^selected within budget\s+([\d,]+)$", out, flags=re.M)
        assert selected is not None
        assert store.contacts.count() == int(selected.group(1).replace(",", ""))
        import crmkit.identity as ci

        entities = re.search(r"^entities\s+([\d,]+)$", out, flags=re.M)
        assert entities is not None
        assert len(ci.load_graph(store).entities()) == int(entities.group(1).replace(",", ""))


def test_demo_is_deterministic(demo_run: tuple[Path, str, str], tmp_path: Path) -> None:
    """The same seed gives the same report, line for line (the file path aside)."""
    _, out, _ = demo_run
    db = tmp_path / "again.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "crmkit", "demo", "--db", str(db), "--customers", "1500",
         "--seed", "3"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    strip = lambda text: [line for line in text.splitlines() if "store " not in line]
    assert strip(proc.stdout) == strip(out)


def test_report_reads_an_existing_store(
    demo_run: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`crmkit report URL` prints the shop section of any store."""
    db, out, _ = demo_run
    assert main(["report", f"sqlite:///{db}"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip().splitlines()[:4] == out.split("\n", 1)[1].strip().splitlines()[:4]


def test_unknown_store_scheme_is_a_one_line_error_with_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """crmkit errors print as one line on stderr and exit with 2."""
    assert main(["report", "nosuch://x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crmkit: error: url: no store for scheme 'nosuch'")
    assert err.count("\n") == 1


def test_bad_arguments_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse rejects a non-positive size; no command prints help; --version the version."""
    with pytest.raises(SystemExit) as info:
        main(["demo", "--customers", "0"])
    assert info.value.code == 2
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"crmkit {crmkit.__version__}"
