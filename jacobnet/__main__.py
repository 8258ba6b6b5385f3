"""``python -m jacobnet`` is the ``jacobnet`` command (:func:`jacobnet.cli.main`: it handles Ctrl-C from its first line)."""

from jacobnet.cli import main

raise SystemExit(main())
