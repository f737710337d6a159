"""The bundle's ``softphone-cli`` executable: the headless client."""

from softphone.cli import main

raise SystemExit(main())
