from convtrack.cli import main

raise SystemExit(main())
