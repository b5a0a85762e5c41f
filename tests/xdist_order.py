"""The order ``make test`` (``pytest -n 2 --dist loadfile``) hands test files to its workers.

xdist's ``loadfile`` sends whole files, the files with the most tests first, so the nine one-test
end-to-end files used to come last, each starting its own desk while the other worker did the
same. Here ``tests/e2e/`` is one work unit sent first: one worker runs every end-to-end test (one
shared desk, one desk running at a time) while the other works through the unit tests, and then
helps with what is left.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

#: The folder whose test files form one work unit, scheduled first.
E2E = "tests/e2e"


class E2eFirstLoadFile(LoadFileScheduling):
    """``--dist loadfile`` with ``tests/e2e/`` as one work unit, assigned before any other."""

    def _split_scope(self, nodeid: str) -> str:
        scope = super()._split_scope(nodeid)
        return E2E if scope.startswith(f"{E2E}/") else scope

    def _assign_work_unit(self, node) -> None:
        if E2E in self.workqueue:
            self.workqueue.move_to_end(E2E, last=False)
        super()._assign_work_unit(node)
