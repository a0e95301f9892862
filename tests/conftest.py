"""Shared fixtures: a clean registry so that installed plugins cannot leak in."""

from __future__ import annotations

from pathlib import Path

import pytest

import attribution as at
from attribution.registry import Registry, use_registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_registry():
    """Only the engine's own entry points, and nothing registered at run time."""
    with use_registry(Registry(include=lambda dist: dist == "attribution-engine")) as reg:
        yield reg


@pytest.fixture
def sample_events() -> Path:
    return ROOT / "sample_data" / "events.csv"


def write_csv(path: Path, text: str) -> Path:
    path.write_text("\n".join(line.strip() for line in text.strip().splitlines()) + "\n")
    return path


def add_entry_points(monkeypatch, *specs: tuple[str, str, str]) -> None:
    """Make ``importlib.metadata`` report extra ``attribution.models`` entry points.

    Each spec is ``(name, "module:Class", distribution name)``; the installed
    entry points stay, the fakes come after them.
    """
    import importlib.metadata as md

    real = md.entry_points

    def fake(group):
        extra = []
        for name, value, dist_name in specs:
            ep = md.EntryPoint(name, value, group)
            object.__setattr__(ep, "dist", type("Dist", (), {"name": dist_name})())
            extra.append(ep)
        return [*real(group=group), *extra]

    monkeypatch.setattr(md, "entry_points", fake)


def paths_of(j: at.Journeys) -> list[tuple[list[str], float, float]]:
    out = []
    for r in range(j.n_rows):
        codes = j.codes[j.offsets[r] : j.offsets[r + 1]]
        out.append(([j.channels[c] for c in codes], j.conversions[r], j.value[r]))
    return out
