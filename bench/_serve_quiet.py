"""`gamehub serve` with the per-request access log silenced, for a benchmark variant only.

The app logs every request at INFO on `gamehub.access`; there is no setting for its level, so
this launcher raises that one logger to WARNING and then runs the shipped command unchanged
(configure_logging sets the root logger's level and handlers, never this logger's level).
"""

from __future__ import annotations

import logging

from gamehub.cli import main

if __name__ == "__main__":
    logging.getLogger("gamehub.access").setLevel(logging.WARNING)
    main()
