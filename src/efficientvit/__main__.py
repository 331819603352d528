"""``python -m efficientvit``: the command line."""

from efficientvit.cli import main

raise SystemExit(main())
