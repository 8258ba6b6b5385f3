"""``python -m jacobnet`` is the ``jacobnet`` command."""

from .cli import main

raise SystemExit(main())
