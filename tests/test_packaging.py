"""models/ and cli/ install inside the attribution namespace, in a wheel too."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


def test_installed_layout_maps_top_level_folders_into_attribution():
    import attribution.cli.main
    import attribution.models.heuristics

    assert attribution.models.heuristics.__file__.endswith("models/heuristics.py")
    assert attribution.cli.main.__file__.endswith("cli/main.py")


@pytest.mark.slow
def test_wheel_contains_only_the_attribution_namespace(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("attribution_engine-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"attribution", next(t for t in tops if t.endswith(".dist-info"))}
    for expected in (
        "attribution/models/heuristics.py",
        "attribution/cli/main.py",
        "attribution/py.typed",
        "attribution/testing/__init__.py",
        "attribution/report/__init__.py",
        "attribution/report/static/report.css",
        "attribution/report/static/report.js",
        "attribution/data/ga4_channel_rules.csv",
    ):
        assert expected in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[attribution.models]" in text and "attribution.cli.main:cli" in text
