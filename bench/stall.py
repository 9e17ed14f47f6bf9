"""Event-loop stall meter shared by the benchmarks: a ticker task records how late each tick is."""

from __future__ import annotations

import asyncio


class StallMeter:
    """Wakes every ``period`` seconds and records how late it woke: the loop's stalls."""

    def __init__(self, period: float = 0.002) -> None:
        self.period = period
        self.lateness: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.period)
            self.lateness.append(loop.time() - before - self.period)

    def start(self) -> None:
        self.lateness.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.lateness)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000

    def max_ms(self) -> float:
        return max(self.lateness, default=0.0) * 1000
