"""``python -m jacobnet`` is the ``jacobnet`` command."""

from jacobnet.cli import main

raise SystemExit(main())
