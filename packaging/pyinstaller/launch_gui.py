"""The bundle's ``softphone`` executable: the desktop application."""

from softphone.gui.app import main

raise SystemExit(main())
