"""The project's numba policy, in one place.

`njit` compiles with ``cache=True`` and ``nogil=True``; set ``NUMBA_DISABLE_JIT=1`` to run the
kernels as plain Python (for coverage and debugging). Nothing here changes numba's global config.
"""

from __future__ import annotations

import numba

prange = numba.prange


def njit(*args, parallel: bool = False):
    """Compile a kernel with the project's settings (``cache=True, nogil=True``)."""
    options = dict(cache=True, nogil=True, parallel=parallel, fastmath=False)
    if args and callable(args[0]):
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
