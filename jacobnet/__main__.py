"""``python -m jacobnet`` is the ``jacobnet`` command (:func:`jacobnet.cli.main`: it handles Ctrl-C from its first line;
while the package itself loads, ``jacobnet/__init__.py``'s first statement does: one line, exit 130)."""

from jacobnet.cli import main

raise SystemExit(main())
