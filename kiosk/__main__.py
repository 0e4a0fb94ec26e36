"""`python -m kiosk …` — see kiosk/cli."""
import sys

from kiosk.memory import tune_malloc

tune_malloc()   # before the station starts any thread: they share two malloc arenas (docs/ui.md "Memory")

from kiosk.cli import main  # noqa: E402

sys.exit(main())
