"""Progress display for long CLI work (rich), on standard error so JSON on standard output stays clean.

    with progress_bar("sweep", total=5) as step:       # step(i, n, label): point i of n is starting
        run_sweep(progress=step)

    with spinner("QKD session, 10^7 pulses"):          # one long call with no intermediate news
        run_qkd(...)

Nothing is drawn when standard error is not a terminal (rich's own rule), so logs and CI stay clean;
then no refresh thread runs either (rich's would wake ten times a second for nothing, taking the GIL
from the work it reports on -- measurably so in a benchmark's latencies).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def _console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def progress_bar(title: str, total: int | None = None) -> Iterator[Callable[[int, int, str], None]]:
    """A bar with elapsed time; yields step(i, n, label) that moves it to point i of n."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = _console()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[label]}"), TimeElapsedColumn(), console=console,
                  transient=False, auto_refresh=console.is_terminal) as bar:
        task = bar.add_task(title, total=total, label="")

        def step(i: int, n: int, label: str) -> None:
            bar.update(task, completed=i, total=n, label=label)

        yield step


@contextlib.contextmanager
def spinner(label: str) -> Iterator[None]:
    """A spinner with elapsed time around one long call."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = _console()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True, auto_refresh=console.is_terminal) as bar:
        bar.add_task(label, total=None)
        yield
