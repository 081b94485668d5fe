"""``python -m qruntime.execution.confined CONFINEMENT-OPTIONS -- WORKER-OPTIONS``.

The worker as started inside a sandbox: it confines itself
(:func:`~qruntime.execution.confinement.confine`) while it is still a single thread, and only
then imports Qiskit and the rest (whose libraries start threads) and runs as
:mod:`~qruntime.execution.worker`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from qruntime.execution.confinement import confine


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    split = args.index("--") if "--" in args else len(args)
    confine(args[:split])
    from qruntime.execution import worker

    worker.main(args[split + 1 :])


if __name__ == "__main__":
    main()
