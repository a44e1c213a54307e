"""``python -m hjdl`` behaves exactly like the ``hjdl`` command."""

from hjdl.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
